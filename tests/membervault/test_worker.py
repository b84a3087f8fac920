"""A real worker process killed in the middle of an export, then restarted, finishes it
(and the erasure it had queued) correctly."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from audit.chain import Read
from export.models import ExportArchive
from identity.models import Member
from membervault import worker
from subject_requests import lifecycle
from subject_requests.models import DataSubjectRequest
from tests.audit.support import seed
from vaultkernel.clock import utcnow

BIN = Path(sys.executable).parent / "membervault"


def open_request(services: Any, member_id: str, type_: str) -> uuid.UUID:
    with services.db.unit_of_work() as uow:
        request = lifecycle.receive(uow.session, uuid.UUID(member_id), type_,
                                    jurisdiction="GDPR", actor="test",
                                    identity_verification="signed in", now=utcnow())
        uow.commit()
        return request.id


def test_a_killed_worker_resumes_an_export_and_an_erasure(
        services: Any, settings: Any, loyalty_api: Any, jane: dict[str, Any],
        tmp_path: Path) -> None:
    from tests.conftest import register

    other = register(loyalty_api, email="bye@example.org", phone="07400 123499")["member"]
    # a long history makes the export take a while
    seed(services, "client:loyalty-engine", "loyalty.membership",
         [Read(uuid.UUID(jane["id"]), ["email"])], 60_000)
    export_id = open_request(services, jane["id"], "access")
    erasure_id = open_request(services, other["id"], "erasure")

    env = {**os.environ, "MEMBERVAULT_DATABASE_URL": settings.database_url,
           "MEMBERVAULT_KEK_FILE": settings.kek_file, "MEMBERVAULT_EXPORT_DIR": settings.export_dir,
           "MEMBERVAULT_MAILBOX_FILE": settings.mailbox_file, "MEMBERVAULT_ISSUER": settings.issuer}
    process = subprocess.Popen([str(BIN), "worker", "--interval", "0.2"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    export_dir = Path(settings.export_dir)
    deadline = time.monotonic() + 60
    try:
        while not list(export_dir.glob("*.partial")):  # the export is being written
            assert process.poll() is None, "the worker exited early"
            assert time.monotonic() < deadline, "the export never started"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    with services.db.unit_of_work() as uow:  # killed mid-export: no archive row
        assert uow.session.get_one(DataSubjectRequest, export_id).state == "in_progress"
        assert uow.session.scalar(select(func.count()).select_from(ExportArchive)) == 0

    # The restarted worker (after the dead one's leases lapse) finishes both.
    later = utcnow() + dt.timedelta(minutes=11)
    worker.run_once(services, now=lambda: later)
    with services.db.unit_of_work() as uow:
        s = uow.session
        assert s.get_one(DataSubjectRequest, export_id).state == "completed"
        assert s.get_one(DataSubjectRequest, erasure_id).state in ("completed",
                                                                   "waiting_for_recipients")
        assert s.get_one(Member, uuid.UUID(other["id"])).status == "erased"
        assert s.scalar(select(func.count()).select_from(ExportArchive)) == 1
    assert not list(export_dir.glob("*.partial"))
    assert len(list(export_dir.iterdir())) == 1


def test_a_pass_indexes_the_access_log_and_signs_its_head(services: Any) -> None:
    """What the worker owes the access log: the per-member index caught up, and the head
    signed (at most once an interval, and only when the log moved)."""
    from audit import heads, member_index

    member = uuid.uuid4()
    services.access_log.append("client:test", "loyalty.membership",
                               [Read(member, ["email"])], "req-1")
    start = utcnow()
    first = worker.run_once(services, now=lambda: start)
    assert first["access_log_heads"] == 1
    with services.db.unit_of_work() as uow:
        assert member_index.indexed_through(uow.session) == 1
        head = heads.latest(uow.session)
        assert head is not None and head.sequence == 1
        assert [a.sequence for a in member_index.of_member(uow.session, member, first=5)] == [1]
    services.access_log.append("client:test", "loyalty.membership",
                               [Read(member, ["email"])], "req-2")
    assert worker.run_once(services, now=lambda: start)["access_log_heads"] == 0  # too soon
    later = start + 2 * heads.INTERVAL
    assert worker.run_once(services, now=lambda: later)["access_log_heads"] == 1
    with services.db.unit_of_work() as uow:
        assert heads.latest(uow.session).sequence == 2  # type: ignore[union-attr]
