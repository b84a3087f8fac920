"""Erasure (GDPR Art. 17 and 19): crypto-shredding, a tombstone, and propagation.

The worker claims erasure requests (``erase_pending``) and erases each member in ONE
transaction: it captures the member number sealed for the outbox (``outbox.secrets``),
keeps a keyed hash of the email on the suppression list if the member had withdrawn
marketing consent, destroys the data key, every ciphertext and every blind index, deletes
sign-in codes, the consent projection, objections and export archives, emits
``member.erased`` to every client that may hold the member's data, records what was
destroyed and kept in the audit trail, and moves the request on. A crash before the
commit leaves the member as they were (the lease lapses and the next pass starts over);
after the commit nothing is left to do but what ``complete_acknowledged`` does once every
recipient has acknowledged.

See docs/erasure.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from audit import trail
from consent.ledger import scrub_evidence
from consent.models import Consent, ConsentRecord, Objection
from export import requests
from export.archive import delete_archives_of
from export.models import DataSubjectRequest, ExportArchive
from identity.errors import IdentityError, KeyringError
from identity.keyring import Keyring
from identity.models import PERSONAL_FIELDS, Member, SignInCode
from identity.validation import normalise_email
from outbox.models import Delivery, OutboxEvent
from outbox.recipients import purposes_with_data, recipients
from outbox.secrets import seal_member_number
from outbox.writer import emit
from retention import holds
from retention.models import SuppressedEmail
from vaultkernel.database import Database
from vaultkernel.jobs import claim
from vaultkernel.sealing import TamperedCiphertext

if TYPE_CHECKING:
    from membervault.services import Services

log = logging.getLogger("membervault.erasure")

ACTOR = "system:erasure"
EVENT = "member.erased"
LEASE = dt.timedelta(minutes=5)
BATCH = 20
ERASABLE_STATES = ("in_progress", "extended")
SUPPRESSION_KEY = "suppression"
MARKETING_PREFIX = "marketing."
BLIND_INDEXES = ("email", "phone", "member_number")


# --------------------------------------------------------------------------------------
# The suppression hash


def suppression_hash(keyring: Keyring, email: str) -> bytes:
    """HMAC-SHA256 of the normalised address: equal addresses match, none can be read back."""
    return hmac.new(keyring.derive(SUPPRESSION_KEY), normalise_email(email).encode(),
                    hashlib.sha256).digest()


def is_suppressed(session: Session, keyring: Keyring, email: str) -> bool:
    """Whether an address belongs to an erased member who had opted out of marketing (an
    import for marketing must skip it). A malformed address is never suppressed."""
    try:
        digest = suppression_hash(keyring, email)
    except IdentityError:
        return False
    return session.get(SuppressedEmail, digest) is not None


# --------------------------------------------------------------------------------------
# Claiming and erasing


def erase_pending(services: Services, now: dt.datetime) -> int:
    """Erase (or, under a legal hold, deny) every claimable erasure request; returns how
    many requests changed state. Each request is its own transaction; one that fails is
    logged (type and frames, never a value) and retried when its lease ends."""
    with services.db.unit_of_work() as uow:
        claimed = [r.id for r in claim(
            uow.session, DataSubjectRequest, DataSubjectRequest.type == "erasure",
            DataSubjectRequest.state.in_(ERASABLE_STATES), lease=LEASE, limit=BATCH,
            order_by=DataSubjectRequest.due_at, now=now)]
        uow.commit()
    done = shredded = 0
    for request_id in claimed:
        try:
            outcome = erase_request(services, request_id, now=now)
        except Exception as exc:  # noqa: BLE001  (the next pass retries; the rest go on)
            log.error("erasure of request %s failed with %s; retried after its lease\n%s",
                      request_id, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            continue
        done += outcome != "skipped"
        shredded += outcome == "erased"
    if shredded:
        checkpoint_wal(services.db)
    return done


def erase_request(services: Services, request_id: uuid.UUID, *, now: dt.datetime) -> str:
    """Carry out one erasure request in one transaction. Returns ``erased``, ``denied``
    (legal hold), ``finished`` (nothing left to erase: the state is moved on) or
    ``skipped`` (no longer an erasure to do)."""
    with services.db.unit_of_work() as uow:
        session = uow.session
        request = session.get(DataSubjectRequest, request_id, with_for_update=True,
                              populate_existing=True)
        if request is None or request.type != "erasure" or request.state not in ERASABLE_STATES:
            return "skipped"
        request.lease_until = None
        hold = holds.active_hold(session, request.member_id, now)
        if hold is not None:
            requests.deny(session, request, "LEGAL_HOLD", hold.reason, actor=ACTOR, now=now)
            trail.record(session, ACTOR, "erasure.denied", request.member_id,
                         request_id=str(request.id), code="LEGAL_HOLD", hold_id=str(hold.id))
            uow.commit()
            log.info("erasure request %s denied: member under legal hold %s", request.id,
                     hold.id)
            return "denied"
        member = session.get(Member, request.member_id, with_for_update=True,
                             populate_existing=True)
        if member is None or member.status == "erased":
            _finish(session, request, now=now,
                    reason="no member data held" if member is None else "member already erased")
            uow.commit()
            return "finished"
        report = erase_member(session, services, member, now=now)
        to_notify = recipients(session, purposes_with_data(session, services.policy, member.id))
        emit(session, EVENT, member.id,
             {"requestId": str(request.id), "erasedAt": now.isoformat()}, to_notify,
             sealed_member_number=report.sealed_member_number if to_notify else None,
             request_id=request.id)
        trail.record(session, ACTOR, "member.erased", member.id, request_id=str(request.id),
                     recipients=to_notify, **report.as_details())
        if to_notify:
            requests.advance(session, request, "waiting_for_recipients", actor=ACTOR,
                             reason=f"erased; waiting for {len(to_notify)} recipient(s)", now=now)
        else:
            requests.advance(session, request, "completed", actor=ACTOR,
                             reason="erased; no recipient to notify", now=now)
        uow.commit()
    log.info("member of request %s erased; %d recipient(s) notified", request_id, len(to_notify))
    return "erased"


def _finish(session: Session, request: DataSubjectRequest, *, now: dt.datetime,
            reason: str) -> None:
    """Move a request on whose member holds nothing left to erase."""
    if pending_acknowledgements(session, request.id):
        requests.advance(session, request, "waiting_for_recipients", actor=ACTOR,
                         reason=reason, now=now)
    else:
        requests.advance(session, request, "completed", actor=ACTOR, reason=reason, now=now)


@dataclass
class ErasureReport:
    """What one erasure destroyed and kept (names and counts, never values)."""

    attributes: list[str]
    blind_indexes: list[str]
    kek_version: int | None
    sign_in_codes: int
    export_archives: int
    consent_state_rows: int
    objections: int
    suppressed: bool
    member_number_captured: bool
    sealed_member_number: bytes | None = field(default=None, repr=False)

    def as_details(self) -> dict[str, Any]:
        return {
            "destroyed": {
                "data_key": True, "kek_version": self.kek_version,
                "attributes": self.attributes, "blind_indexes": self.blind_indexes,
                "sign_in_codes": self.sign_in_codes, "export_archives": self.export_archives,
                "consent_state_rows": self.consent_state_rows, "objections": self.objections,
                "last_activity": True,
            },
            "kept": ["tombstone", "consent_records", "access_log", "requests", "audit_trail",
                     *(["suppression_hash"] if self.suppressed else [])],
            "suppressed": self.suppressed,
            "member_number_captured": self.member_number_captured,
        }


def erase_member(session: Session, services: Services, member: Member, *,
                 now: dt.datetime) -> ErasureReport:
    """Shred one member inside the caller's transaction (which commits or rolls back)."""
    number, email = _read_for_erasure(services, member)
    sealed = seal_member_number(services.keyring, number) if number else None
    suppressed = False
    if email and marketing_withdrawn(session, member.id):
        digest = suppression_hash(services.keyring, email)
        if session.get(SuppressedEmail, digest) is None:
            session.add(SuppressedEmail(email_hash=digest, added_at=now,
                                        reason="marketing_opt_out"))
        suppressed = True
    email_index = member.email_index
    report = ErasureReport(
        attributes=[f for f in PERSONAL_FIELDS if getattr(member, f) is not None],
        blind_indexes=[k for k in BLIND_INDEXES if getattr(member, f"{k}_index") is not None],
        kek_version=member.kek_version, sign_in_codes=0, export_archives=0,
        consent_state_rows=0, objections=0, suppressed=suppressed,
        member_number_captured=sealed is not None, sealed_member_number=sealed)
    # Crypto-shredding: the data key, then every ciphertext and blind index.
    member.wrapped_key = None
    member.kek_version = None
    for name in PERSONAL_FIELDS:
        setattr(member, name, None)
    for kind in BLIND_INDEXES:
        setattr(member, f"{kind}_index", None)
    member.status = "erased"
    member.erased_at = now
    member.updated_at = now
    member.last_activity_at = now
    session.flush()
    if email_index is not None:
        report.sign_in_codes = _count(session.execute(
            delete(SignInCode).where(SignInCode.email_index == email_index)))
    scrub_evidence(session, [member.id])
    report.consent_state_rows = _count(session.execute(
        delete(Consent).where(Consent.member_id == member.id)))
    report.objections = _count(session.execute(
        delete(Objection).where(Objection.member_id == member.id)))
    report.export_archives = delete_archives(session, services, member.id)
    return report


def _read_for_erasure(services: Services, member: Member) -> tuple[str | None, str | None]:
    """The member number (for recipients) and email (for the suppression hash); ``None``
    for what cannot be read. A damaged key or ciphertext never blocks an erasure."""
    if member.wrapped_key is None or member.kek_version is None:
        return None, None
    try:
        cipher = services.crypto.cipher(member.id, member.kek_version, member.wrapped_key)
        number = (cipher.decrypt("member_number", member.member_number)
                  if member.member_number is not None else None)
        email = cipher.decrypt("email", member.email) if member.email is not None else None
    except (TamperedCiphertext, KeyringError) as exc:
        log.warning("member of an erasure could not be opened (%s); erasing without the "
                    "member number or suppression hash", type(exc).__name__)
        return None, None
    return number, email


def marketing_withdrawn(session: Session, member_id: uuid.UUID) -> bool:
    """True when, for any ``marketing.*`` purpose, the member's latest record withdraws."""
    latest: dict[str, bool] = {}
    rows = session.execute(
        select(ConsentRecord.purpose, ConsentRecord.granted)
        .where(ConsentRecord.member_id == member_id,
               ConsentRecord.purpose.startswith(MARKETING_PREFIX, autoescape=True))
        .order_by(ConsentRecord.id))
    for purpose, granted in rows:
        latest[purpose] = bool(granted)
    return any(not granted for granted in latest.values())


def delete_archives(session: Session, services: Services, member_id: uuid.UUID) -> int:
    """Delete the member's export archives, rows and files; returns how many rows there
    were. Uses the export package's own deletion when it provides one."""
    count = session.scalar(select(func.count()).select_from(ExportArchive)
                           .where(ExportArchive.member_id == member_id)) or 0
    delete_archives_of(session, Path(services.settings.export_dir), [member_id])
    return int(count)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def checkpoint_wal(db: Database) -> None:
    """SQLite: copy the WAL into the database and truncate it, so page images written
    before an erasure (wrapped keys, ciphertexts, blind indexes) do not linger in the
    -wal file. ``secure_delete`` already zeroes freed space in the database pages."""
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as connection:
        row = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    if row is not None and row[0]:
        log.warning("WAL checkpoint after erasure was blocked by a reader; the next "
                    "erasure pass (or SQLite's automatic checkpoint) completes it")


# --------------------------------------------------------------------------------------
# Acknowledgements


def _erasure_deliveries(request_id: Any) -> Any:
    return (select(Delivery)
            .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
            .where(OutboxEvent.request_id == request_id, OutboxEvent.type == EVENT))


def deliveries_of(session: Session, request_id: uuid.UUID) -> list[Delivery]:
    """Every delivery of the request's ``member.erased`` event, by client."""
    return list(session.scalars(_erasure_deliveries(request_id)
                                .order_by(Delivery.client_id, Delivery.id)))


def pending_acknowledgements(session: Session, request_id: uuid.UUID) -> list[str]:
    """The clients that have not yet acknowledged the erasure of this request."""
    query = (select(Delivery.client_id)
             .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
             .where(OutboxEvent.request_id == request_id, OutboxEvent.type == EVENT,
                    Delivery.acknowledged_at.is_(None))
             .distinct().order_by(Delivery.client_id))
    return list(session.scalars(query))


def complete_acknowledged(services: Services, now: dt.datetime) -> int:
    """Complete every erasure request whose recipients have all acknowledged, and drop
    the sealed member number of its event; returns how many were completed."""
    unacknowledged = (select(Delivery.id)
                      .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
                      .where(OutboxEvent.request_id == DataSubjectRequest.id,
                             OutboxEvent.type == EVENT, Delivery.acknowledged_at.is_(None)))
    completed = 0
    while True:
        with services.db.unit_of_work() as uow:
            session = uow.session
            batch = list(session.scalars(
                select(DataSubjectRequest)
                .where(DataSubjectRequest.type == "erasure",
                       DataSubjectRequest.state == "waiting_for_recipients",
                       ~exists(unacknowledged))
                .order_by(DataSubjectRequest.id).limit(BATCH)
                .with_for_update(skip_locked=True, of=DataSubjectRequest)))
            for request in batch:
                requests.advance(session, request, "completed", actor=ACTOR,
                                 reason="every recipient acknowledged", now=now)
                session.execute(update(OutboxEvent)
                                .where(OutboxEvent.request_id == request.id,
                                       OutboxEvent.type == EVENT)
                                .values(sealed_member_number=None)
                                .execution_options(synchronize_session=False))
                trail.record(session, ACTOR, "erasure.completed", request.member_id,
                             request_id=str(request.id))
            uow.commit()
        completed += len(batch)
        if len(batch) < BATCH:
            break
    if completed:
        checkpoint_wal(services.db)
    return completed
