"""The floors' access-log writer: one entry per answer, on the service's chain, and a
sequence taken by another writer is retried (so B5's floor runs with 2 workers)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from audit.chain import Read
from audit.models import AccessLogEntry
from audit.verification import verify
from bench.env import Env
from bench.raw import Raw
from vaultkernel.clock import utcnow


def _append(raw: Raw, member: uuid.UUID, request_id: str) -> int | None:
    return raw.append_log([(member, ["email"], {})], principal="client:floor",
                          purpose="marketing.email", request_id=request_id, now=utcnow())


@pytest.mark.parametrize("autocommit", [True, False])
def test_writers_with_stale_tails_retry_and_keep_one_chain(env: Env, autocommit: bool) -> None:
    member = uuid.uuid4()
    first = Raw(env.kind, env.engine, autocommit=autocommit)
    second = Raw(env.kind, env.engine, autocommit=autocommit)
    service = env.services.access_log
    try:
        assert _append(first, member, "floor-1") == 1
        assert _append(second, member, "floor-2") == 2
        assert _append(first, member, "floor-3") == 3  # its tail (1) was stale
        service.append("client:service", "marketing.email", [Read(member, ["email"])],
                       "service-4")
        assert _append(second, member, "floor-5") == 5  # the service took 3 and 4
        # an answer that named nobody is an entry too, as in the service
        assert second.append_log([], principal="client:floor", purpose="marketing.email",
                                 request_id="nobody", now=utcnow()) == 6
    finally:
        first.close()
        second.close()
    with env.services.db.unit_of_work() as uow:
        assert verify(uow.session).ok
        assert list(uow.session.scalars(sa.select(AccessLogEntry.request_id)
                                        .order_by(AccessLogEntry.sequence))) == [
            "floor-1", "floor-2", "floor-3", "service-4", "floor-5", "nobody"]


def test_a_writer_that_keeps_meeting_newer_entries_retries_at_once(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer moves on between each refusal and its retry: every retry still goes
    at once with the tail just learnt. (Backing off let the other writer move further,
    so the learnt tail was stale every time: two floor workers failed requests with
    ``LogUnavailable`` after the budget.)"""
    import bench.raw

    member = uuid.uuid4()
    waits: list[float] = []
    monkeypatch.setattr(bench.raw.time, "sleep", waits.append)
    floor = Raw(env.kind, env.engine, autocommit=True)
    service = env.services.access_log
    insert = floor._insert_log
    taken = []

    def meanwhile_another_entry(*args: object) -> int | None:
        sequence = insert(*args)  # type: ignore[arg-type]
        if sequence is None and len(taken) < 3:
            taken.append(True)
            service.append("client:service", "marketing.email", [Read(member, ["email"])],
                           f"service-{len(taken)}")
        return sequence

    try:
        assert _append(floor, member, "floor-1") == 1
        service.append("client:service", "marketing.email", [Read(member, ["email"])],
                       "service-0")
        monkeypatch.setattr(floor, "_insert_log", meanwhile_another_entry)
        assert _append(floor, member, "floor-2") == 6
    finally:
        floor.close()
    assert len(taken) == 3
    assert waits == []
    with env.services.db.unit_of_work() as uow:
        assert verify(uow.session).ok
