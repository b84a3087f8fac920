"""Signed checkpoints of the access log's head, kept apart from the log.

A hash chain shows an entry changed or removed in the middle, but not the newest entries
cut off the end. So the worker signs the head (sequence and hash of the newest entry) with
the service's signing key, at most every :data:`INTERVAL`, and records it in the audit
trail and in the service log (which operators ship elsewhere). :func:`check` then proves
the log still reaches the latest signed head with the same hash. Entries newer than the
latest head are covered by the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import trail
from audit.models import AccessLogEntry, AuditEvent
from vaultkernel.database import UnitOfWork

ACTION = "access_log.head_signed"
TYP = "access-log-head+jws"
INTERVAL = dt.timedelta(minutes=1)
ACTOR = "system:worker"

log = logging.getLogger("membervault.audit")


@dataclass(frozen=True)
class Notary:
    """Signs a document (compact JWS) and checks one (the document, or ``None``)."""

    sign: Callable[[dict[str, Any]], str]
    check: Callable[[str], dict[str, Any] | None]


@dataclass(frozen=True)
class Head:
    sequence: int
    entry_hash: str  # hex
    at: str
    signature: str


def _latest_event(session: Session) -> AuditEvent | None:
    return session.scalars(select(AuditEvent).where(AuditEvent.action == ACTION)
                           .order_by(AuditEvent.id.desc()).limit(1)).first()


def latest(session: Session) -> Head | None:
    event = _latest_event(session)
    if event is None:
        return None
    details = event.details
    return Head(int(str(details.get("sequence"))), str(details.get("entry_hash")),
                str(details.get("at")), str(details.get("signature")))


def sign_head(uow: UnitOfWork, notary: Notary, now: dt.datetime, *,
              interval: dt.timedelta = INTERVAL) -> Head | None:
    """Sign the current head when it moved since the last signed one and ``interval`` has
    passed; returns the new head (``None`` when there was nothing to sign)."""
    session = uow.session
    tail = session.execute(select(AccessLogEntry.sequence, AccessLogEntry.entry_hash)
                           .order_by(AccessLogEntry.sequence.desc()).limit(1)).first()
    if tail is None:
        return None
    last = _latest_event(session)
    if last is not None and (int(str(last.details.get("sequence"))) == tail.sequence
                             or now - last.at < interval):
        return None
    document = {"sequence": tail.sequence, "entry_hash": tail.entry_hash.hex(),
                "at": now.isoformat()}
    head = Head(tail.sequence, tail.entry_hash.hex(), now.isoformat(), notary.sign(document))
    with uow.committing():
        trail.record(session, ACTOR, ACTION, None, sequence=head.sequence,
                     entry_hash=head.entry_hash, at=head.at, signature=head.signature)
    log.info("access log head signed: sequence=%d entry_hash=%s", head.sequence,
             head.entry_hash)
    return head


def check(head: Head, notary: Notary, entry_hash_at: Callable[[int], bytes | None],
          tail: int, anchor: int) -> str | None:
    """What is wrong with the log against ``head`` (``None``: nothing). ``tail`` is the
    newest sequence in the log, ``anchor`` the last one pruned."""
    document = notary.check(head.signature)
    if document != {"sequence": head.sequence, "entry_hash": head.entry_hash, "at": head.at}:
        return "the latest signed head's signature does not verify"
    if head.sequence <= anchor:
        return None  # pruned since it was signed; the pruning checkpoint anchors the chain
    if tail < head.sequence:
        return (f"entries removed from the end: the log ends at {tail} but a signed head "
                f"covers {head.sequence}")
    found = entry_hash_at(head.sequence)
    if found is None or found.hex() != head.entry_hash:
        return "the entry at the latest signed head was changed"
    return None
