"""Access requests wait for the worker; one export a day."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from subject_requests.errors import RequestError
from tests.conftest import Api
from tests.subject_requests.support import OPEN


def test_an_access_request_waits_for_the_worker_and_duplicates_are_refused(
        jane_api: Api) -> None:
    first = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert first["request"]["state"] == "IN_PROGRESS"
    assert first["request"]["overdue"] is False
    again = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert again["errors"] == [{"field": None, "code": "DUPLICATE"}]
    mine = jane_api.graphql("{ myRequests { type state } }")["data"]["myRequests"]
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
    import dataclasses
    import datetime as dt

    from export.archive import build_pending_exports
    from subject_requests import access
    from vaultkernel.clock import utcnow

    opened = jane_api.graphql("mutation { openMyRequest(input: {type: ACCESS}) "
                              "{ request { id } errors { code } } }")
    assert opened["data"]["openMyRequest"]["errors"] == []
    now = utcnow()
    short = dataclasses.replace(services.exports, link_ttl=dt.timedelta(hours=1))
    assert build_pending_exports(services.db, short, now=now) == 1
    member_id = jane_api.graphql("{ me { id } }")["data"]["me"]["id"]
    with services.db.unit_of_work() as uow:
        with pytest.raises(RequestError) as refused:
            access.check(uow.session, uuid.UUID(member_id), now=now + dt.timedelta(minutes=59))
        assert refused.value.code == "TOO_SOON"
        access.check(uow.session, uuid.UUID(member_id), now=now + dt.timedelta(minutes=61))
