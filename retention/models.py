"""Legal holds and the marketing suppression list."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vaultkernel.clock import utcnow
from vaultkernel.database import Base, UTCDateTime


class LegalHold(Base):
    """While active, a member is skipped by every retention rule and by erasure."""

    __tablename__ = "legal_holds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(120))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(120))


class SuppressedEmail(Base):
    """A keyed hash of an erased member's email who had opted out of marketing: the
    address is never re-imported for marketing (kept without the address itself)."""

    __tablename__ = "suppression_list"

    email_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(64))
