"""Legal holds. (The marketing suppression list is identity's: ``identity.suppression``.)"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vaultkernel.clock import utcnow
from vaultkernel.database import Base, UTCDateTime


class LegalHold(Base):
    """While active, a member is skipped by every retention rule, and an erasure request
    erases only what the hold does not cover (``categories``; null: all the member's
    personal data), restricting the rest until the hold ends."""

    __tablename__ = "legal_holds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    reason: Mapped[str] = mapped_column(Text)
    # The data categories the hold keeps; null: every category.
    categories: Mapped[list[str] | None] = mapped_column(JSON)
    placed_by: Mapped[str] = mapped_column(String(120))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(120))

