"""Export archives (the requests they answer are in subject_requests.models)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vaultkernel.clock import utcnow
from vaultkernel.database import Base, UTCDateTime


class ExportArchive(Base):
    """An export package: stored encrypted under the member's data key, so erasing the
    member also shreds every archive; downloadable with an unguessable, expiring link."""

    __tablename__ = "export_archives"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    path: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer, default=0)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The link's token, sealed under the member's data key so the signed-in member can be
    # shown it again (and erasure shreds it with everything else).
    sealed_token: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    downloaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
