"""Consent ledger (append-only), its projection, and objections (GDPR Art. 21)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vaultkernel.clock import utcnow
from vaultkernel.database import Base, UTCDateTime


class ConsentRecord(Base):
    """One change of consent, never updated or deleted: the proof."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The public handle of the record, e.g. the consent receipt id.
    receipt_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    # No foreign key: records outlive the member's row as proof (GDPR Art. 7(1)).
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    notice_version: Mapped[int] = mapped_column(Integer)
    # SHA-256 (hex) of the notice the record was made under (consent.notices.notice_hash);
    # null for records older than the column.
    notice_hash: Mapped[str | None] = mapped_column(String(64))
    # The language (BCP 47) of the notice text the member was shown, which notice_hash
    # is over; null for records older than the column: the policy's own language.
    language: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    # The GPC signal, in the clear; never a personal value (consent.evidence).
    evidence: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    # The keyed IP hash and user agent, sealed under the member's data key (AES-256-GCM):
    # erasure destroys the key, so no copy of them (dead tuples, WAL, backups) opens.
    sealed_evidence: Mapped[bytes | None] = mapped_column(LargeBinary)


class Consent(Base):
    """The current state per (member, purpose): a projection of the records."""

    __tablename__ = "consents"

    member_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    notice_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    record_id: Mapped[int] = mapped_column(Integer)


class Objection(Base):
    """A member's objection to a legitimate-interest purpose (GDPR Art. 21)."""

    __tablename__ = "objections"

    member_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
