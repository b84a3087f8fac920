"""Claiming work safely when several workers run at once.

A job row is claimed by setting a lease; a worker that dies simply lets the lease lapse
and another picks the job up. On PostgreSQL candidates are locked with
``FOR UPDATE SKIP LOCKED`` so two workers never claim the same row; SQLite serialises
writers, and the conditional UPDATE makes a lost race harmless there too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from vaultkernel.clock import utcnow

T = TypeVar("T")


def claim(session: Session, model: type[T], *conditions: Any, lease: dt.timedelta,
          limit: int = 1, order_by: Any = None, now: dt.datetime | None = None) -> list[T]:
    """Claim up to ``limit`` rows matching ``conditions`` whose lease is free, in the
    caller's transaction: the claim holds once the caller commits (do so before slow work,
    so no row stays locked while it runs)."""
    now = now or utcnow()
    lease_col = model.lease_until  # type: ignore[attr-defined]
    pk = model.id  # type: ignore[attr-defined]
    free = or_(lease_col.is_(None), lease_col < now)
    query = select(pk).where(free, *conditions).limit(limit)
    if order_by is not None:
        query = query.order_by(order_by)
    ids = list(session.scalars(query.with_for_update(skip_locked=True)))
    claimed: list[T] = []
    for id_ in ids:
        result = session.execute(update(model).where(pk == id_, free)
                                 .values(lease_until=now + lease)
                                 .execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) == 1:
            claimed.append(session.get_one(model, id_))
    return claimed


def release(session: Session, row: Any) -> None:
    row.lease_until = None
