"""Access requests (GDPR Art. 15 and 20): the member's data as a downloadable export.

Opening one is refused (``TOO_SOON``) while a completed access request of the member was
received less than 24 hours ago: the last export is still there. The worker builds the
archive and completes the request (:func:`export.archive.build_pending_exports`: the
archive and its package belong to ``export``); the member sees the download link of a
completed request in their requests (:func:`member_requests`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from export.archive import Exports, download_url, latest_archive
from subject_requests import lifecycle
from subject_requests.deadlines import Deadlines
from subject_requests.errors import RequestError
from subject_requests.lifecycle import Download, Snapshot
from subject_requests.models import DataSubjectRequest
from vaultkernel.database import UnitOfWork

INTERVAL = dt.timedelta(hours=24)


def check(session: Session, member_id: uuid.UUID, *, now: dt.datetime) -> None:
    """Refuse a new access request within a day of the last completed one."""
    if session.scalar(
            select(DataSubjectRequest.id).where(
                DataSubjectRequest.member_id == member_id, DataSubjectRequest.type == "access",
                DataSubjectRequest.state == "completed",
                DataSubjectRequest.received_at > now - INTERVAL).limit(1)) is not None:
        # GDPR Art. 12(5): manifestly excessive repetition; the last export is still there.
        raise RequestError("TOO_SOON", "one data export a day: download the last one")


def download_of(session: Session, exports: Exports,
                request: DataSubjectRequest) -> Download | None:
    """The download of a completed access request while its archive is live, else None."""
    if request.type != "access" or request.state != "completed":
        return None
    archive = latest_archive(session, request.id)
    url = None if archive is None else download_url(session, exports, archive)
    return None if url is None or archive is None else Download(
        url=url, expires_at=archive.expires_at)


def member_requests(uow: UnitOfWork, exports: Exports, deadlines: Deadlines,
                    member_id: uuid.UUID, *, now: dt.datetime) -> list[Snapshot]:
    """Every request of the member, newest first, each completed access request with its
    download while the archive is live; reads only."""
    session = uow.session
    rows = session.scalars(lifecycle.listing(member_id=member_id, now=now)).all()
    return [lifecycle.snapshot(session, r, now, deadlines,
                               download=download_of(session, exports, r))
            for r in sorted(rows, key=lambda r: r.received_at, reverse=True)]
