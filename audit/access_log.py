"""The access log (design rule 2): every read, hash-chained, written before the answer.

Each entry's hash covers its content and the previous entry's hash, so an edited,
deleted or reordered entry breaks the chain at a point :func:`verify` reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from audit.models import AccessLogCheckpoint, AccessLogEntry
from vaultkernel.clock import Clock, SystemClock
from vaultkernel.database import Database
from vaultkernel.errors import DomainError

GENESIS = bytes(32)
WRITE_ATTEMPTS = 20
SYSTEM_CLOCK = SystemClock()


class AccessLogUnavailable(DomainError):
    """The log could not be written: the read it guards must fail closed. ``detail`` says
    why (an exception's name, or contention), for the server log only."""

    def __init__(self, detail: str):
        super().__init__("ACCESS_LOG_UNAVAILABLE",
                         "The access log cannot be written, so no data is returned")
        self.detail = detail


@dataclass(frozen=True)
class Access:
    principal: str
    purpose: str
    member_id: uuid.UUID
    fields_returned: Sequence[str]
    fields_denied: dict[str, str] = field(default_factory=dict)


def canonical(sequence: int, at: dt.datetime, request_id: str, principal: str, purpose: str,
              member_id: uuid.UUID, returned: Sequence[str], denied: dict[str, str]) -> bytes:
    return _canonical(sequence, _instant(at), request_id, principal, purpose, member_id,
                      returned, denied)


def _instant(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _canonical(sequence: int, at: str, request_id: str, principal: str, purpose: str,
               member_id: uuid.UUID, returned: Sequence[str], denied: dict[str, str]) -> bytes:
    """:func:`canonical` with the time already formatted (a batch shares one time)."""
    return orjson.dumps(
        {"sequence": sequence, "at": at, "request_id": request_id, "principal": principal,
         "purpose": purpose, "member_id": str(member_id), "fields_returned": sorted(returned),
         "fields_denied": denied},
        option=orjson.OPT_SORT_KEYS)


def chain_hash(previous: bytes, content: bytes) -> bytes:
    return hashlib.sha256(previous + content).digest()


# Built once: on a single-profile read, building these costs about as much as running them.
_TAIL = (select(AccessLogEntry.sequence, AccessLogEntry.entry_hash)
         .order_by(AccessLogEntry.sequence.desc()).limit(1))
_INSERT = insert(AccessLogEntry)


def append(db: Database, accesses: Sequence[Access], request_id: str, *,
           clock: Clock = SYSTEM_CLOCK) -> None:
    """Write a batch of entries in one short transaction of its own, retrying when another
    writer took the next position first. Raises :class:`AccessLogUnavailable`."""
    if not accesses:
        return
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with db.engine.begin() as connection:
                last = connection.execute(_TAIL).first()
                sequence, previous = (last[0], last[1]) if last else (0, GENESIS)
                rows = _rows(accesses, request_id, sequence, previous, clock.now())
                connection.execute(_INSERT, rows)
            return
        except (IntegrityError, OperationalError):
            time.sleep(min(0.002 * (attempt + 1), 0.05))
        except Exception as exc:  # noqa: BLE001  (any failure: fail closed)
            raise AccessLogUnavailable(type(exc).__name__) from None
    raise AccessLogUnavailable("contention")


def _rows(accesses: Sequence[Access], request_id: str, sequence: int,
          previous: bytes, now: dt.datetime) -> list[dict[str, Any]]:
    instant = _instant(now)
    rows = []
    for access in accesses:
        sequence += 1
        returned = sorted(access.fields_returned)
        denied = dict(sorted(access.fields_denied.items()))
        digest = chain_hash(previous, _canonical(sequence, instant, request_id,
                                                 access.principal, access.purpose,
                                                 access.member_id, returned, denied))
        rows.append({"sequence": sequence, "at": now, "request_id": request_id,
                     "principal": access.principal, "purpose": access.purpose,
                     "member_id": access.member_id, "fields_returned": returned,
                     "fields_denied": denied, "previous_hash": previous,
                     "entry_hash": digest})
        previous = digest
    return rows


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_broken_sequence: int | None = None
    problem: str | None = None


def _entries(session: Session, after: int = 0, batch: int = 5000) -> Iterator[AccessLogEntry]:
    while True:
        rows = session.scalars(select(AccessLogEntry).where(AccessLogEntry.sequence > after)
                               .order_by(AccessLogEntry.sequence).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].sequence
        session.expunge_all()


def anchor(session: Session) -> tuple[int, bytes]:
    """Where the chain starts: the genesis, or the latest pruning checkpoint."""
    checkpoint = session.scalars(select(AccessLogCheckpoint)
                                 .order_by(AccessLogCheckpoint.sequence.desc()).limit(1)).first()
    return (0, GENESIS) if checkpoint is None else (checkpoint.sequence, checkpoint.entry_hash)


def verify(session: Session) -> Verification:
    """Walk the chain from its anchor; report the first entry that does not fit."""
    start, previous = anchor(session)
    expected_sequence, checked = start + 1, 0
    for entry in _entries(session, after=start):
        if entry.sequence != expected_sequence:
            return Verification(False, checked, expected_sequence,
                                "entry missing (sequence gap)")
        if entry.previous_hash != previous:
            return Verification(False, checked, entry.sequence,
                                "previous hash does not match the entry before")
        content = canonical(entry.sequence, entry.at, entry.request_id, entry.principal,
                            entry.purpose, entry.member_id, entry.fields_returned,
                            entry.fields_denied)
        if chain_hash(previous, content) != entry.entry_hash:
            return Verification(False, checked, entry.sequence, "entry content was changed")
        previous, expected_sequence, checked = entry.entry_hash, expected_sequence + 1, checked + 1
    return Verification(True, checked)


@dataclass(frozen=True)
class LogFilter:
    principal: str | None = None
    purpose: str | None = None
    member_id: uuid.UUID | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def page(session: Session, flt: LogFilter, first: int, after: int | None,
         newest_first: bool = True) -> list[AccessLogEntry]:
    query = select(AccessLogEntry)
    if flt.principal:
        query = query.where(AccessLogEntry.principal == flt.principal)
    if flt.purpose:
        query = query.where(AccessLogEntry.purpose == flt.purpose)
    if flt.member_id:
        query = query.where(AccessLogEntry.member_id == flt.member_id)
    if flt.since:
        query = query.where(AccessLogEntry.at >= flt.since)
    if flt.until:
        query = query.where(AccessLogEntry.at < flt.until)
    if newest_first:
        if after is not None:
            query = query.where(AccessLogEntry.sequence < after)
        query = query.order_by(AccessLogEntry.sequence.desc())
    else:
        if after is not None:
            query = query.where(AccessLogEntry.sequence > after)
        query = query.order_by(AccessLogEntry.sequence)
    return list(session.scalars(query.limit(first)))
