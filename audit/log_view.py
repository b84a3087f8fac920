"""Reading the access log a page at a time, one item per member read, newest first.

An entry of a page read names many members; the view lists them one by one, so a
position is the entry's sequence and the member's place within it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import member_index
from audit.chain import unpack
from audit.member_index import MemberAccess
from audit.models import AccessLogEntry
from vaultkernel.database import UnitOfWork


@dataclass(frozen=True)
class LogFilter:
    principal: str | None = None
    purpose: str | None = None
    member_id: uuid.UUID | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class Position:
    """Where a page ended: before this sequence, or at ``offset`` within it."""

    sequence: int
    offset: int = 0


def page(session: Session, flt: LogFilter, first: int,
         after: Position | None) -> tuple[list[MemberAccess], Position | None]:
    """Up to ``first`` items after ``after``, and where the next page starts (``None`` on
    the last page)."""
    if flt.member_id is not None:
        items = member_index.of_member(
            session, flt.member_id, first=first,
            before=after.sequence if after else None, principal=flt.principal,
            purpose=flt.purpose, since=flt.since, until=flt.until)
        return items, (Position(items[-1].sequence) if len(items) == first else None)
    return _all_members(session, flt, first, after)


def _all_members(session: Session, flt: LogFilter, first: int,
                 after: Position | None) -> tuple[list[MemberAccess], Position | None]:
    # An entry that named nobody (a look-up of an unknown key) lists no item; left out,
    # every entry fetched lists one at least, so ``first + 1`` of them fill a page.
    query = select(AccessLogEntry).where(AccessLogEntry.members > 0)
    for condition in member_index.filters(flt.principal, flt.purpose, flt.since, flt.until):
        query = query.where(condition)
    if after is not None:
        query = query.where(AccessLogEntry.sequence <= after.sequence)
    query = query.order_by(AccessLogEntry.sequence.desc())
    items: list[MemberAccess] = []
    for entry in session.scalars(query.limit(first + 1)):
        reads = list(unpack(entry.reads))
        skip = after.offset if after and entry.sequence == after.sequence else 0
        for offset in range(skip, len(reads)):
            if len(items) == first:
                return items, Position(entry.sequence, offset)
            read = reads[offset]
            items.append(MemberAccess(entry.sequence, entry.at, entry.request_id,
                                      entry.principal, entry.purpose, read.member_id,
                                      list(read.returned), dict(read.denied)))
    return items, None


def own_reads(uow: UnitOfWork, member_id: uuid.UUID, *, first: int,
              before: int | None = None) -> list[MemberAccess]:
    """Who read the member's data ("who read my data"): their entries, newest first,
    below sequence ``before``. The entries name readers, purposes and field names, never
    a personal value, so reading them is not itself a read of member data."""
    return member_index.of_member(uow.session, member_id, first=first, before=before)
