"""The administrative audit trail: who changed what, by field name, never by value."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Integer, LargeBinary, SmallInteger, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vaultkernel.clock import utcnow
from vaultkernel.database import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    # Internal id only; kept (no foreign key) so the trail outlives an erased member's row.
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class AccessLogEntry(Base):
    """One answered read (a page, a single read, a consent check): hash-chained,
    append-only, no personal values.

    ``reads`` holds the packed members and attribute sets as canonical JSON text (see
    :mod:`audit.chain`); ``entry_hash = SHA-256(previous_hash || header || reads)``.
    ``sequence`` is the primary key, so two writers racing for one position cannot both
    win. ``format`` 1 marks an entry written before the packed shape (one member each); it
    keeps its original hash, so the chain of old entries still verifies.
    """

    __tablename__ = "access_log"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str] = mapped_column(String(64))
    principal: Mapped[str] = mapped_column(String(120), index=True)
    purpose: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[int] = mapped_column(SmallInteger)
    members: Mapped[int] = mapped_column(Integer)
    reads: Mapped[str] = mapped_column(Text)
    previous_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AccessLogMember(Base):
    """The per-member index of the log ("who read my data"), derived from the entries by
    the worker, off the request path, and checkable against them."""

    __tablename__ = "access_log_members"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class AccessLogIndexState(Base):
    """How far the per-member index has been derived (one row)."""

    __tablename__ = "access_log_index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    indexed_through: Mapped[int] = mapped_column(Integer)


class AccessLogCheckpoint(Base):
    """Where pruning cut the chain: the last pruned entry's sequence and hash, so the
    remaining entries still verify from this anchor (and tampering is still caught)."""

    __tablename__ = "access_log_checkpoints"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    pruned: Mapped[int] = mapped_column(Integer)
