"""Access requests (GDPR Art. 15 and 20): the member's data as a downloadable export.

Opening one is refused (``TOO_SOON``) while a completed access request of the member was
received less than 24 hours ago *and* its archive can still be downloaded: the last export
is still there. Once its link has expired (however short ``MEMBERVAULT_EXPORT_LINK_TTL``
is), a new request is taken at once. The worker claims the access requests and completes
each once its archive is stored (:func:`build_pending_exports`; the archive itself, its
files and its package, belong to ``export``: see :mod:`export.archive` for the steps and
what a crash leaves); the member sees the download link of a completed request in their
requests (:func:`member_requests`).
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.service import processing_state
from export import archive
from export.archive import Built, Exports
from export.disclosure import iso
from export.models import ExportArchive
from retention import holds
from subject_requests import lifecycle
from subject_requests.deadlines import Deadlines
from subject_requests.errors import RequestError
from subject_requests.lifecycle import Download, Snapshot
from subject_requests.models import DataSubjectRequest
from vaultkernel.database import Database, UnitOfWork
from vaultkernel.jobs import claim

log = logging.getLogger("membervault.export")

INTERVAL = dt.timedelta(hours=24)
ACTOR = "system:export-worker"
BATCH = 20  # requests built per pass at most; the next pass takes the rest
BUILDABLE_STATES = ("in_progress", "extended")
MEMBER_ERASED = "the member was erased: no personal data is left to export"


def check(session: Session, member_id: uuid.UUID, *, now: dt.datetime) -> None:
    """Refuse a new access request within a day of the last completed one whose export
    is still there to download."""
    if session.scalar(
            select(DataSubjectRequest.id)
            .join(ExportArchive, ExportArchive.request_id == DataSubjectRequest.id)
            .where(DataSubjectRequest.member_id == member_id,
                   DataSubjectRequest.type == "access",
                   DataSubjectRequest.state == "completed",
                   DataSubjectRequest.received_at > now - INTERVAL,
                   ExportArchive.expires_at > now).limit(1)) is not None:
        # GDPR Art. 12(5): manifestly excessive repetition; the last export is still there.
        raise RequestError("TOO_SOON", "one data export a day: download the last one")


# --------------------------------------------------------------------------------------
# Building the exports


def build_pending_exports(db: Database, exports: Exports, now: dt.datetime) -> int:
    """Build the archive of every claimable access request (up to :data:`BATCH` per pass)
    and complete the requests; returns how many were completed. A request whose build
    fails is logged (exception type and frames, never a value) and retried after its
    lease; the others go on."""
    completed = 0
    for _ in range(BATCH):
        with db.unit_of_work() as uow:
            claimed = [r.id for r in claim(
                uow.session, DataSubjectRequest, DataSubjectRequest.type == "access",
                DataSubjectRequest.state.in_(BUILDABLE_STATES), lease=archive.LEASE,
                order_by=DataSubjectRequest.due_at, now=now)]
            uow.commit()
        if not claimed:
            break
        request_id = claimed[0]
        try:
            completed += export_request(db, exports, request_id, now=now)
        except Exception as exc:  # noqa: BLE001  (the next pass retries; the rest go on)
            log.error("export of request %s failed with %s; retried after its lease\n%s",
                      request_id, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            _record_failure(db, request_id, exc, now)
    return completed


def _record_failure(db: Database, request_id: uuid.UUID, exc: Exception,
                    now: dt.datetime) -> None:
    try:
        with db.unit_of_work() as uow:
            request = uow.session.get(DataSubjectRequest, request_id)
            if request is not None:
                details = dict(request.details or {})
                attempts = details.get("exportFailures")
                details["exportFailures"] = (attempts if isinstance(attempts, int) else 0) + 1
                details["exportLastError"] = type(exc).__name__
                details["exportLastFailureAt"] = iso(now)
                request.details = details
                uow.commit()
    except Exception as second:  # noqa: BLE001  (bookkeeping only)
        log.warning("could not record the failed export of %s (%s)", request_id,
                    type(second).__name__)


def export_request(db: Database, exports: Exports, request_id: uuid.UUID, *,
                   now: dt.datetime) -> bool:
    """Build one claimed access request's archive and complete the request; returns
    whether the request was completed."""
    with db.unit_of_work() as uow:
        session = uow.session
        request = session.get(DataSubjectRequest, request_id)
        if request is None or request.type != "access" or request.state not in BUILDABLE_STATES:
            return False
        intact = archive.reusable_archive(session, exports, request_id)
        if intact is not None:
            _complete_request(session, request, now, f"export archive {intact.id} ready")
            uow.commit()
            return True
        built = archive.build_archive(
            session, exports, request.id, request.member_id,
            requests=lifecycle.history(session, request.member_id),
            holds=holds.history(session, request.member_id, now), now=now)
        if built is None:
            _complete_request(session, request, now, MEMBER_ERASED)
            uow.commit()
            return True
        uow.commit()  # only the removal of stale rows, if any; reads end here
    try:
        return _finish(db, exports, request_id, built, now)
    except BaseException:
        archive.discard(exports, built)
        raise


def _complete_request(session: Session, request: DataSubjectRequest, now: dt.datetime,
                      reason: str) -> None:
    lifecycle.advance(session, request, "completed", actor=ACTOR, reason=reason, now=now)
    request.lease_until = None


def _finish(db: Database, exports: Exports, request_id: uuid.UUID, built: Built,
            now: dt.datetime) -> bool:
    """One transaction: the archive row and the request's completion, after checking that
    the request is still ours to complete and the member still there."""
    with db.unit_of_work() as uow:
        session = uow.session
        request = session.get(DataSubjectRequest, request_id, with_for_update=True,
                              populate_existing=True)
        if request is None or request.state not in BUILDABLE_STATES:
            archive.discard(exports, built)
            return False
        stored = archive.store_archive(session, exports, built, request.id,
                                       request.member_id, now=now)
        if stored is None:
            _complete_request(session, request, now, MEMBER_ERASED)
            uow.commit()
            return True
        _complete_request(session, request, now,
                          f"export archive {built.archive_id} ready; the download link "
                          f"expires at {iso(stored.expires_at)}")
        uow.commit()
    log.info("export archive %s built for request %s (%d bytes)", built.archive_id,
             request_id, built.size)
    return True


def requests_of(session: Session, member_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The ids of these members' access requests: erasing the members removes what is left
    of their exports' files too (``retention.shredding`` is given this by the root)."""
    return set(session.scalars(select(DataSubjectRequest.id)
                               .where(DataSubjectRequest.member_id.in_(member_ids),
                                      DataSubjectRequest.type == "access")))


# --------------------------------------------------------------------------------------
# The member's requests and downloads


def download_of(session: Session, exports: Exports,
                request: DataSubjectRequest) -> Download | None:
    """The download of a completed access request while its archive is live, else None."""
    if request.type != "access" or request.state != "completed":
        return None
    archive_row = archive.latest_archive(session, request.id)
    url = None if archive_row is None else archive.download_url(session, exports, archive_row)
    return None if url is None or archive_row is None else Download(
        url=url, expires_at=archive_row.expires_at)


def member_requests(uow: UnitOfWork, exports: Exports, deadlines: Deadlines,
                    member_id: uuid.UUID, *, now: dt.datetime) -> list[Snapshot]:
    """Every request of the member, newest first, each completed access request with its
    download while the archive is live; reads only."""
    session = uow.session
    rows = session.scalars(lifecycle.listing(member_id=member_id, now=now)).all()
    return [lifecycle.snapshot(session, r, now, deadlines,
                               download=download_of(session, exports, r))
            for r in sorted(rows, key=lambda r: r.received_at, reverse=True)]


@dataclass(frozen=True)
class MemberRequests:
    """What the member's requests page shows: the requests, and whether processing of
    their data is restricted now (so the page offers to lift it)."""

    requests: list[Snapshot]
    restricted: bool


def member_overview(uow: UnitOfWork, exports: Exports, deadlines: Deadlines,
                    member_id: uuid.UUID, *, now: dt.datetime) -> MemberRequests:
    """The member's requests with their downloads, and the restriction state; reads only."""
    return MemberRequests(member_requests(uow, exports, deadlines, member_id, now=now),
                          processing_state(uow, member_id).restricted)
