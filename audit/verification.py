"""Verifying the access log: the hash chain from its anchor, the per-member index against
the entries it was derived from, and the end of the log against the latest signed head."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import heads
from audit.chain import GENESIS, entry_hash, instant, member_ids
from audit.heads import Notary
from audit.member_index import indexed_through
from audit.models import AccessLogCheckpoint, AccessLogEntry, AccessLogMember

BATCH = 5000


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_broken_sequence: int | None = None
    problem: str | None = None


def anchor(session: Session) -> tuple[int, bytes]:
    """Where the chain starts: the genesis, or the latest pruning checkpoint."""
    checkpoint = session.scalars(select(AccessLogCheckpoint)
                                 .order_by(AccessLogCheckpoint.sequence.desc()).limit(1)).first()
    return (0, GENESIS) if checkpoint is None else (checkpoint.sequence, checkpoint.entry_hash)


def _batches(session: Session, after: int) -> Iterator[list[AccessLogEntry]]:
    while True:
        rows = list(session.scalars(select(AccessLogEntry).where(AccessLogEntry.sequence > after)
                                    .order_by(AccessLogEntry.sequence).limit(BATCH)))
        if not rows:
            return
        yield rows
        after = rows[-1].sequence
        session.expunge_all()


def verify(session: Session, notary: Notary | None = None) -> Verification:
    """Walk the chain and report the first thing that does not fit. Without a notary the
    signed head is not checked (the chain and the index still are)."""
    start, previous = anchor(session)
    expected, checked = start + 1, 0
    through = indexed_through(session)
    for batch in _batches(session, start):
        for entry in batch:
            if entry.sequence != expected:
                return Verification(False, checked, expected, "entry missing (sequence gap)")
            if entry.previous_hash != previous:
                return Verification(False, checked, entry.sequence,
                                    "previous hash does not match the entry before")
            try:
                digest = entry_hash(previous, entry.sequence, instant(entry.at),
                                    entry.request_id, entry.principal, entry.purpose,
                                    entry.reads, entry.format)
            except (ValueError, TypeError):  # the packed text no longer parses
                digest = b""
            if digest != entry.entry_hash:
                return Verification(False, checked, entry.sequence, "entry content was changed")
            previous, expected, checked = entry.entry_hash, expected + 1, checked + 1
        broken = _index_mismatch(session, batch, through)
        if broken is not None:
            return Verification(False, checked, broken,
                                "the per-member index does not match the entry")
    if notary is not None:
        head = heads.latest(session)
        if head is not None:
            problem = heads.check(head, notary, lambda s: _hash_at(session, s),
                                  tail=expected - 1, anchor=start)
            if problem is not None:
                return Verification(False, checked, min(head.sequence, expected), problem)
    return Verification(True, checked)


def _index_mismatch(session: Session, batch: list[AccessLogEntry], through: int) -> int | None:
    """The first entry of the batch whose index rows differ from the members it names."""
    low, high = batch[0].sequence, min(batch[-1].sequence, through)
    if high < low:
        return None
    indexed: dict[int, set[object]] = {}
    for member_id, sequence in session.execute(
            select(AccessLogMember.member_id, AccessLogMember.sequence)
            .where(AccessLogMember.sequence.between(low, high))):
        indexed.setdefault(sequence, set()).add(member_id)
    for entry in batch:
        if entry.sequence > high:
            break
        if indexed.pop(entry.sequence, set()) != set(member_ids(entry.reads)):
            return entry.sequence
    return min(indexed) if indexed else None  # index rows for entries that do not exist


def _hash_at(session: Session, sequence: int) -> bytes | None:
    return session.scalar(select(AccessLogEntry.entry_hash)
                          .where(AccessLogEntry.sequence == sequence))
