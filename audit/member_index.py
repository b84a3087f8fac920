"""Who read one member's data: the per-member index of the access log.

The request path writes one entry per answered read; the worker derives the index rows
(member, sequence) from those entries afterwards (:func:`catch_up`). A per-member question
is answered from the index *and* from the entries not indexed yet, in one snapshot, so it
is complete whether or not the worker has caught up. The index is checked against the
chain by :func:`audit.verification.verify`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.chain import member_ids, read_of
from audit.models import AccessLogEntry, AccessLogIndexState, AccessLogMember
from vaultkernel.database import Database

BATCH = 5000
_E, _M = AccessLogEntry, AccessLogMember


@dataclass(frozen=True)
class MemberAccess:
    """One member's part of one entry: what "who read my data" lists."""

    sequence: int
    at: dt.datetime
    request_id: str
    principal: str
    purpose: str
    member_id: uuid.UUID
    returned: Sequence[str]
    denied: dict[str, str]


def indexed_through(session: Session) -> int:
    return int(session.scalar(select(AccessLogIndexState.indexed_through)
                              .where(AccessLogIndexState.id == 1)) or 0)


def catch_up(db: Database, batch: int = BATCH) -> int:
    """Index the entries written since the last pass; returns how many were indexed.
    Safe to run in several processes at once: a pass that finds the state moved on by
    another writes nothing."""
    done = 0
    _ensure_state(db)
    while True:
        with db.engine.begin() as connection:
            through = connection.scalar(select(AccessLogIndexState.indexed_through)
                                        .where(AccessLogIndexState.id == 1)) or 0
            rows = connection.execute(select(_E.sequence, _E.reads)
                                      .where(_E.sequence > through)
                                      .order_by(_E.sequence).limit(batch)).all()
            if not rows:
                return done
            moved = connection.execute(
                update(AccessLogIndexState)
                .where(AccessLogIndexState.id == 1,
                       AccessLogIndexState.indexed_through == through)
                .values(indexed_through=rows[-1].sequence))
            if moved.rowcount != 1:
                return done  # another pass is indexing the same entries
            pairs = [{"member_id": m, "sequence": sequence}
                     for sequence, reads in rows for m in member_ids(reads)]
            if pairs:
                connection.execute(insert(AccessLogMember), pairs)
        done += len(rows)


_COLUMNS = (_E.sequence, _E.at, _E.request_id, _E.principal, _E.purpose, _E.reads)


def _ensure_state(db: Database) -> None:
    """The state row exists (the migration writes it; an emptied table lacks it)."""
    with db.engine.connect() as connection:
        if connection.scalar(select(AccessLogIndexState.id)) is not None:
            return
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(AccessLogIndexState), {"id": 1, "indexed_through": 0})
    except IntegrityError:
        pass  # another pass wrote it first


def _member_entries(session: Session, member_id: uuid.UUID) -> Select[Any]:
    """The entries naming the member: indexed ones by the index, newer ones by their text
    (a member's id appears in an entry only as its quoted 32-digit hex)."""
    through = indexed_through(session)
    indexed = select(_M.sequence).where(_M.member_id == member_id, _M.sequence <= through)
    return select(*_COLUMNS).where(  # type: ignore[return-value]
        (_E.sequence.in_(indexed))
        | ((_E.sequence > through) & _E.reads.contains(f'"{member_id.hex}"')))


def of_member(session: Session, member_id: uuid.UUID, *, first: int,
              before: int | None = None, after: int | None = None,
              principal: str | None = None, purpose: str | None = None,
              since: dt.datetime | None = None,
              until: dt.datetime | None = None) -> list[MemberAccess]:
    """A page of the member's entries: newest first below ``before``, or oldest first
    above ``after``."""
    query = _member_entries(session, member_id)
    for condition in filters(principal, purpose, since, until):
        query = query.where(condition)
    if after is not None:
        query = query.where(_E.sequence > after).order_by(_E.sequence)
    else:
        if before is not None:
            query = query.where(_E.sequence < before)
        query = query.order_by(_E.sequence.desc())
    return [_access(row, member_id) for row in session.execute(query.limit(first))]


def all_of_member(session: Session, member_id: uuid.UUID, until: int,
                  page: int = BATCH) -> Iterator[list[MemberAccess]]:
    """Every entry naming the member up to ``until``, oldest first, a page at a time."""
    after = 0
    while True:
        rows = of_member(session, member_id, first=page, after=after)
        rows = [r for r in rows if r.sequence <= until]
        if not rows:
            return
        yield rows
        after = rows[-1].sequence


def count_of_member(session: Session, member_id: uuid.UUID) -> tuple[int, int]:
    """How many entries name the member, and the newest one's sequence (0 if none)."""
    entries = _member_entries(session, member_id).subquery()
    count, newest = session.execute(select(func.count(), func.coalesce(
        func.max(entries.c.sequence), 0))).one()
    return int(count), int(newest)


def filters(principal: str | None, purpose: str | None, since: dt.datetime | None,
             until: dt.datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if principal:
        conditions.append(_E.principal == principal)
    if purpose:
        conditions.append(_E.purpose == purpose)
    if since:
        conditions.append(_E.at >= since)
    if until:
        conditions.append(_E.at < until)
    return conditions


def _access(row: Any, member_id: uuid.UUID) -> MemberAccess:
    read = read_of(row.reads, member_id)
    returned, denied = (read.returned, dict(read.denied)) if read else ([], {})
    return MemberAccess(row.sequence, row.at, row.request_id, row.principal, row.purpose,
                        member_id, list(returned), denied)
