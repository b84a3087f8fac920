"""Outbox events (written in the transaction of the change) and per-recipient deliveries."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vaultkernel.clock import utcnow
from vaultkernel.database import Base, UTCDateTime


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    # What happened, without personal values (purpose, granted, fields changed, ...).
    facts: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    # Recipients know members by member number. It is read from the member at delivery
    # time, except for erasure, when the number is captured sealed (AES-GCM under a
    # keyring-derived key) before the member's keys are destroyed, and dropped once
    # every recipient has acknowledged.
    sealed_member_number: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)


class Delivery(Base):
    """One event to one recipient: pending, delivered or dead (then replayable)."""

    __tablename__ = "outbox_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Erasure events must be acknowledged through the API (GDPR Art. 19).
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
