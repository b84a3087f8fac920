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
