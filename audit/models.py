"""The administrative audit trail: who changed what, by field name, never by value."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Uuid
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
    """One read of one member's data: hash-chained, append-only, no personal values.

    ``entry_hash = SHA-256(previous_hash || canonical JSON of the entry)``; ``sequence`` is
    the primary key, so two writers racing for the same position cannot both win.
    """

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_member_id_sequence", "member_id", "sequence"),)

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str] = mapped_column(String(64))
    principal: Mapped[str] = mapped_column(String(120), index=True)
    purpose: Mapped[str] = mapped_column(String(64), index=True)
    # Indexed with the sequence (below): a member's entries are read in sequence order.
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    fields_returned: Mapped[list[str]] = mapped_column(JSON)
    fields_denied: Mapped[dict[str, str]] = mapped_column(JSON)
    previous_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AccessLogCheckpoint(Base):
    """Where pruning cut the chain: the last pruned entry's sequence and hash, so the
    remaining entries still verify from this anchor (and tampering is still caught)."""

    __tablename__ = "access_log_checkpoints"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    pruned: Mapped[int] = mapped_column(Integer)
