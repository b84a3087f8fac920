"""Reading the access log in tests: its entries, and what they say of each member."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from audit.chain import Read, unpack
from audit.models import AccessLogEntry


@dataclass(frozen=True)
class Logged:
    """One member's part of one entry."""

    sequence: int
    principal: str
    purpose: str
    member_id: uuid.UUID
    fields_returned: list[str]
    fields_denied: dict[str, str]


def entries(services: Any, principal: str | None = None) -> list[Any]:
    query = select(AccessLogEntry).order_by(AccessLogEntry.sequence)
    if principal is not None:
        query = query.where(AccessLogEntry.principal == principal)
    with services.db.engine.connect() as connection:
        return list(connection.execute(query))


def logged(services: Any, principal: str | None = None,
           member_id: uuid.UUID | None = None) -> list[Logged]:
    """Every member named in the log (oldest first), optionally one reader's or one
    member's."""
    found = [Logged(e.sequence, e.principal, e.purpose, read.member_id, list(read.returned),
                    dict(read.denied))
             for e in entries(services, principal) for read in unpack(e.reads)]
    return [f for f in found if member_id is None or f.member_id == member_id]


def write(services: Any, principal: str, purpose: str, reads: Iterable[Read],
          request_id: str = "seed") -> None:
    services.access_log.append(principal, purpose, list(reads), request_id)


def seed(services: Any, principal: str, purpose: str, reads: list[Read], count: int,
         request_id: str = "seed") -> None:
    """``count`` entries of the same reads, chained and inserted in one transaction (much
    faster than ``count`` answered reads; the writers notice the new tail themselves)."""
    from sqlalchemy import insert

    from audit.chain import GENESIS, entry_row, pack

    packed, members = pack(reads)
    now = services.clock.now()
    with services.db.engine.begin() as connection:
        last = connection.execute(select(AccessLogEntry.sequence, AccessLogEntry.entry_hash)
                                  .order_by(AccessLogEntry.sequence.desc()).limit(1)).first()
        sequence, previous = (last[0], last[1]) if last else (0, GENESIS)
        rows = []
        for _ in range(count):
            sequence += 1
            rows.append(entry_row(previous, sequence, now, request_id, principal, purpose,
                                  packed, members))
            previous = rows[-1]["entry_hash"]
        connection.execute(insert(AccessLogEntry), rows)
