"""Access requests wait for the worker; one export a day; the worker's builds resume
after a crash or a kill and complete each request once."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import replace
from typing import Any

import pytest

from audit.chain import Read
from export import archive, package
from membervault.services import Services
from subject_requests import access, lifecycle
from subject_requests.errors import RequestError
from subject_requests.models import DataSubjectRequest
from tests.audit.support import seed
from tests.conftest import Api
from tests.export.support import (
    archives_of,
    build,
    entries_of,
    export_files,
    get,
    link_path,
    open_access_request,
    purge_expired,
    the_archive,
    the_request,
    validate,
)
from tests.subject_requests.support import OPEN
from vaultkernel.clock import utcnow


def test_an_access_request_waits_for_the_worker_and_duplicates_are_refused(
        jane_api: Api) -> None:
    first = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert first["request"]["state"] == "IN_PROGRESS"
    assert first["request"]["overdue"] is False
    again = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert again["errors"] == [{"field": None, "code": "DUPLICATE"}]
    mine = jane_api.graphql("{ myRequests { items { type state } } }")["data"]["myRequests"]["items"]
    assert mine == [{"type": "ACCESS", "state": "IN_PROGRESS"}]


def test_one_export_a_day(jane_api: Api, services: Any) -> None:
    from membervault import worker

    opened = jane_api.graphql("mutation { openMyRequest(input: {type: ACCESS}) "
                              "{ request { id } errors { code } } }")
    assert opened["data"]["openMyRequest"]["errors"] == []
    worker.run_once(services)
    again = jane_api.graphql("mutation { openMyRequest(input: {type: ACCESS}) "
                             "{ request { id } errors { code } } }")
    assert again["data"]["openMyRequest"]["errors"] == [{"code": "TOO_SOON"}]


def test_a_new_export_is_taken_once_the_last_link_expired(jane_api: Api,
                                                           services: Any) -> None:
    """A short link lifetime must not leave a member without an export for a day."""
    opened = jane_api.graphql("mutation { openMyRequest(input: {type: ACCESS}) "
                              "{ request { id } errors { code } } }")
    assert opened["data"]["openMyRequest"]["errors"] == []
    now = utcnow()
    short = replace(services.exports, link_ttl=dt.timedelta(hours=1))
    assert access.build_pending_exports(services.db, short, now=now) == 1
    member_id = jane_api.graphql("{ me { id } }")["data"]["me"]["id"]
    with services.db.unit_of_work() as uow:
        with pytest.raises(RequestError) as refused:
            access.check(uow.session, uuid.UUID(member_id), now=now + dt.timedelta(minutes=59))
        assert refused.value.code == "TOO_SOON"
        access.check(uow.session, uuid.UUID(member_id), now=now + dt.timedelta(minutes=61))


# --------------------------------------------------------------------------------------
# Resumable and idempotent


class Crash(Exception):
    pass


@pytest.mark.parametrize("step", ["while streaming member.json", "after the file is sealed",
                                  "while completing the request"])
def test_a_crash_anywhere_is_finished_by_a_later_pass(
        services: Services, http: Any, jane: dict[str, Any], jane_api: Api,
        monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    seed(services, "client:loyalty-engine", "loyalty.membership",
         [Read(uuid.UUID(jane["id"]), ["email"])], 5000, "bulk")
    request_id = open_access_request(services, jane["id"])
    crashes = {"n": 0}

    def crash_once(original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if crashes["n"] == 0:
                crashes["n"] += 1
                if step == "while streaming member.json":
                    # Write part of the log, then die in the middle of the stream.
                    pages = args[2]
                    next(pages)
                    raise Crash()
                original(*args, **kwargs)
                raise Crash()
            return original(*args, **kwargs)
        return wrapper

    target = {"while streaming member.json": (package, "write_member_json"),
              "after the file is sealed": (archive, "_fsync_dir"),
              "while completing the request": (access, "_complete_request")}[step]
    monkeypatch.setattr(target[0], target[1], crash_once(getattr(*target)))

    now = utcnow()
    assert build(services, now) == 0
    assert crashes["n"] == 1
    assert archives_of(services, request_id) == []
    request = the_request(services, request_id)
    assert request.state == "in_progress"
    assert request.details["exportFailures"] == 1 and request.details["exportLastError"] == "Crash"
    assert export_files(services) == []  # nothing half-written is left behind

    assert build(services, now) == 0  # the lease still holds
    later = now + archive.LEASE + dt.timedelta(seconds=1)
    assert build(services, later) == 1
    row = the_archive(services, request_id)
    assert [p.name for p in export_files(services)] == [row.path]
    assert the_request(services, request_id).state == "completed"
    assert build(services, later + archive.LEASE * 2) == 0
    assert len(archives_of(services, request_id)) == 1

    body = get(http, link_path(services, row), jane_api.token).content
    document = json.loads(entries_of(body)["member.json"])
    validate(document)
    assert len(document["accessLog"]) == document["accessLogCount"] >= 5000


def test_files_left_by_a_killed_worker_are_cleaned_on_the_next_pass(
        services: Services, jane: dict[str, Any]) -> None:
    """A kill leaves what no ``finally`` could clean: a partial file, or a sealed file
    whose row was never committed. The next pass removes both and builds once."""
    request_id = open_access_request(services, jane["id"])
    directory = archive.export_dir(services.exports)
    stale = [directory / f"{request_id}.{uuid.uuid4()}.partial",
             directory / f"{request_id}.{uuid.uuid4()}.sealed"]
    for path in stale:
        path.write_bytes(os.urandom(1000))
    unrelated = directory / f"{uuid.uuid4()}.{uuid.uuid4()}.sealed"
    unrelated.write_bytes(b"left by a crash of another request")
    foreign = directory / "README.txt"
    foreign.write_text("not ours")

    now = utcnow()
    assert build(services, now) == 1
    row = the_archive(services, request_id)
    assert not any(p.exists() for p in stale)
    assert sorted(p.name for p in export_files(services)) == sorted(
        [row.path, unrelated.name, foreign.name])

    # An orphan younger than a lease may belong to a build in progress: kept; older: gone.
    assert purge_expired(services, now=now) == 0
    assert unrelated.exists()
    old = now.timestamp() - archive.LEASE.total_seconds() - 60
    os.utime(unrelated, (old, old))
    assert purge_expired(services, now=now) == 0
    assert not unrelated.exists() and foreign.exists()
    assert (directory / row.path).exists()


def test_an_archive_already_committed_just_completes_the_request(
        services: Services, http: Any, jane: dict[str, Any], jane_api: Api) -> None:
    request_id = open_access_request(services, jane["id"])
    now = utcnow()
    assert build(services, now) == 1
    row = the_archive(services, request_id)
    with services.db.unit_of_work() as uow:  # as if the completion had been lost
        request = uow.session.get(DataSubjectRequest, request_id)
        assert request is not None
        request.state = "in_progress"
        request.closed_at = None
        uow.commit()
    assert build(services, now + archive.LEASE) == 1
    assert [a.id for a in archives_of(services, request_id)] == [row.id]
    assert the_request(services, request_id).state == "completed"
    assert get(http, link_path(services, row), jane_api.token).status_code == 200


def test_only_open_access_requests_are_built(services: Services, jane: dict[str, Any]) -> None:
    with services.db.unit_of_work() as uow:
        member = uuid.UUID(jane["id"])
        waiting = lifecycle.receive(uow.session, member, "access", jurisdiction="GDPR",
                                    actor="officer:x", identity_verification=None,
                                    now=utcnow())
        lifecycle.receive(uow.session, member, "restriction", jurisdiction="GDPR",
                          actor="officer:x", identity_verification="signed in",
                          now=utcnow())
        uow.commit()
    assert build(services) == 0
    assert the_request(services, waiting.id).state == "identity_verification"
    assert export_files(services) == []
