"""Data subject requests and their transitions (tables ``data_subject_requests`` and
``request_transitions``)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vaultkernel.clock import utcnow
from vaultkernel.database import Base, UTCDateTime


class DataSubjectRequest(Base):
    __tablename__ = "data_subject_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # No foreign key: the request (and its proof) outlives an erased member's row.
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    type: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(32), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # The legal clock stops only while identity is being verified.
    paused_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extended: Mapped[bool] = mapped_column(default=False)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    identity_verification: Mapped[str | None] = mapped_column(String(200))
    opened_by: Mapped[str] = mapped_column(String(120))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    denial_code: Mapped[str | None] = mapped_column(String(40))
    denial_reason: Mapped[str | None] = mapped_column(Text)
    # Worker bookkeeping: a job is claimed for a lease and re-claimable after a crash.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class RequestTransition(Base):
    """Every change of a request's state: who, when, why."""

    __tablename__ = "request_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("data_subject_requests.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
