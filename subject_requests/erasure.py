"""Erasure requests (GDPR Art. 17 and 19): the request's part of an erasure, and its
certificate.

The worker claims erasure requests (``erase_pending``) and handles each in ONE
transaction (``erase_request``): a member already erased (or never held) only moves the
request on; otherwise the member is erased by :func:`retention.shredding.erase_members`,
the one erasure that the retention sweep uses too (crypto-shredding, suppression hash,
deletions, ``member.erased`` to every client that may hold the member's data, the
audit-trail record), and the request moves to ``waiting_for_recipients`` (or
``completed`` when nobody is to be told). A member under an active legal hold is erased
around it: what the hold does not cover goes, the rest is kept with its processing
restricted, and the request is ``held`` with an outcome telling the member what was
erased, what is kept and why, and their remedies (GDPR Art. 12(4)); once the hold ends,
the worker claims the request again and finishes the erasure. A crash before
the commit leaves the member as they were (the lease lapses and the next pass starts
over); after the commit nothing is left to do but what ``complete_acknowledged`` does
once every recipient has acknowledged. Officers see who has not acknowledged
(:func:`awaiting_acknowledgement`) and get a signed certificate of what was done
(:func:`erasure_certificate`).

See docs/erasure.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from joserfc.jwk import Key
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from audit import member_index, trail
from audit.models import AuditEvent
from consent.models import ConsentRecord
from identity.models import Member
from identity.signed_documents import sign_document
from outbox.models import Delivery, OutboxEvent
from retention import holds
from retention.holds import Coverage
from retention.models import LegalHold
from retention.shredding import (
    EVENT,
    HELD_RECORD,
    ErasureCause,
    ErasureKit,
    ErasureReport,
    checkpoint_wal,
    erase_members,
)
from subject_requests import lifecycle
from subject_requests.errors import RequestError
from subject_requests.models import DataSubjectRequest
from vaultkernel.clock import utcnow
from vaultkernel.database import Database, UnitOfWork
from vaultkernel.jobs import claim
from vaultkernel.policy import Policy

log = logging.getLogger("membervault.erasure")

ACTOR = "system:erasure"
LEASE = dt.timedelta(minutes=5)
BATCH = 20
ERASABLE_STATES = ("in_progress", "extended")
HELD = "held"
REMEDY = ("If you disagree, you may lodge a complaint with a supervisory authority and seek "
          "a judicial remedy (GDPR Art. 12(4), 77 and 79).")


# --------------------------------------------------------------------------------------
# Claiming and erasing


def erase_pending(db: Database, kit: ErasureKit, now: dt.datetime) -> int:
    """Erase every claimable erasure request (around a legal hold: what it does not
    cover), and finish the held ones whose holds have ended; returns how many requests
    changed state. Each request is its own transaction; one that fails is logged (type
    and frames, never a value) and retried when its lease ends."""
    claimable = or_(DataSubjectRequest.state.in_(ERASABLE_STATES),
                    and_(DataSubjectRequest.state == HELD,
                         ~holds.active_clause(DataSubjectRequest.member_id, now)))
    with db.unit_of_work() as uow:
        claimed = [r.id for r in claim(
            uow.session, DataSubjectRequest, DataSubjectRequest.type == "erasure",
            claimable, lease=LEASE, limit=BATCH, order_by=DataSubjectRequest.due_at,
            now=now)]
        uow.commit()
    done = shredded = 0
    for request_id in claimed:
        try:
            with db.unit_of_work() as uow:
                outcome = erase_request(uow, kit, request_id, now=now)
        except Exception as exc:  # noqa: BLE001  (the next pass retries; the rest go on)
            log.error("erasure of request %s failed with %s; retried after its lease\n%s",
                      request_id, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            continue
        done += outcome != "skipped"
        shredded += outcome in ("erased", "held")
    if shredded:
        checkpoint_wal(db)
    return done


def erase_request(uow: UnitOfWork, kit: ErasureKit, request_id: uuid.UUID, *,
                  now: dt.datetime) -> str:
    """Carry out one erasure request and commit. Returns ``erased``, ``held`` (erased
    around a legal hold, the rest restricted), ``finished`` (nothing left to erase: the
    state is moved on) or ``skipped`` (no longer an erasure to do, or still held; nothing
    is committed)."""
    session = uow.session
    request = session.get(DataSubjectRequest, request_id, with_for_update=True,
                          populate_existing=True)
    if (request is None or request.type != "erasure"
            or request.state not in (*ERASABLE_STATES, HELD)):
        return "skipped"
    if request.state == HELD and holds.active_hold(session, request.member_id, now):
        return "skipped"  # a hold placed since the claim: its lease lapses, nothing else
    request.lease_until = None
    member = session.get(Member, request.member_id, with_for_update=True,
                         populate_existing=True)
    if member is None or member.status == "erased":
        _finish(session, request, now=now,
                reason="no member data held" if member is None else "member already erased")
        uow.commit()
        return "finished"
    (report,) = erase_members(session, kit, [member.id], now=now,
                              cause=ErasureCause.request(request.id))
    if report.held is not None:
        _hold(session, kit.policy, request, report, report.held, now=now)
        uow.commit()
        log.info("erasure request %s held by legal hold(s): erased around them, the rest "
                 "restricted", request.id)
        return "held"
    to_notify = report.recipients
    if to_notify:
        lifecycle.advance(session, request, "waiting_for_recipients", actor=ACTOR,
                         reason=f"erased; waiting for {len(to_notify)} recipient(s)", now=now)
    else:
        lifecycle.advance(session, request, "completed", actor=ACTOR,
                         reason="erased; no recipient to notify", now=now)
    uow.commit()
    log.info("member of request %s erased; %d recipient(s) notified", request_id, len(to_notify))
    return "erased"


def held_outcome(policy: Policy, report: ErasureReport, held: Coverage) -> str:
    """What the member is told when legal holds keep part of their data (GDPR Art.
    12(4)): what was erased, what is kept and why, that it is restricted and will be
    erased when the holds end, and their remedies."""
    def titles(attributes: list[str]) -> str:
        keys = dict.fromkeys(policy.category_of(a) for a in attributes)
        return ", ".join(policy.categories[k].title.lower() for k in keys)

    erased = titles(report.attributes)
    kept = titles(report.kept_attributes) or "no value of your profile"
    reasons = "; ".join(h.reason for h in held.holds)
    expiry = held.latest_expiry
    until = f" (due to end on {expiry.date().isoformat()})" if expiry else ""
    return (f"Erased: {erased + ', ' if erased else ''}your data exports. Kept because of a "
            f"legal hold ({reasons}): {kept}. Until the hold ends{until} this data is used "
            "for nothing else: its processing is restricted (GDPR Art. 17(3)(e), 18(2)); "
            "then it is erased too, without a new request. " + REMEDY)


def _hold(session: Session, policy: Policy, request: DataSubjectRequest,
          report: ErasureReport, held: Coverage, *, now: dt.datetime) -> None:
    """The request is answered for now: held, with the outcome the member reads."""
    outcome = held_outcome(policy, report, held)
    request.details = {**(request.details or {}), "outcome": outcome,
                       "heldBy": [str(h.id) for h in held.holds]}
    if request.state != HELD:
        lifecycle.advance(session, request, HELD, actor=ACTOR, reason=outcome, now=now)
    trail.record(session, ACTOR, "erasure.held", request.member_id,
                 request_id=str(request.id), hold_ids=[str(h.id) for h in held.holds])


def _finish(session: Session, request: DataSubjectRequest, *, now: dt.datetime,
            reason: str) -> None:
    """Move a request on whose member holds nothing left to erase."""
    if pending_acknowledgements(session, request.id):
        lifecycle.advance(session, request, "waiting_for_recipients", actor=ACTOR,
                         reason=reason, now=now)
    else:
        lifecycle.advance(session, request, "completed", actor=ACTOR, reason=reason, now=now)


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


def awaiting_acknowledgement(uow: UnitOfWork, request_id: uuid.UUID) -> list[Delivery]:
    """The deliveries of the request's ``member.erased`` event not yet acknowledged, by
    client (none for an unknown request); reads only."""
    return [d for d in deliveries_of(uow.session, request_id) if d.acknowledged_at is None]


def pending_acknowledgements(session: Session, request_id: uuid.UUID) -> list[str]:
    """The clients that have not yet acknowledged the erasure of this request."""
    query = (select(Delivery.client_id)
             .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
             .where(OutboxEvent.request_id == request_id, OutboxEvent.type == EVENT,
                    Delivery.acknowledged_at.is_(None))
             .distinct().order_by(Delivery.client_id))
    return list(session.scalars(query))


def complete_acknowledged(db: Database, now: dt.datetime) -> int:
    """Complete every erasure request whose recipients have all acknowledged, and drop
    the sealed member number of its event; returns how many were completed."""
    unacknowledged = (select(Delivery.id)
                      .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
                      .where(OutboxEvent.request_id == DataSubjectRequest.id,
                             OutboxEvent.type == EVENT, Delivery.acknowledged_at.is_(None)))
    completed = 0
    while True:
        with db.unit_of_work() as uow:
            session = uow.session
            batch = list(session.scalars(
                select(DataSubjectRequest)
                .where(DataSubjectRequest.type == "erasure",
                       DataSubjectRequest.state == "waiting_for_recipients",
                       ~exists(unacknowledged))
                .order_by(DataSubjectRequest.id).limit(BATCH)
                .with_for_update(skip_locked=True, of=DataSubjectRequest)))
            for request in batch:
                lifecycle.advance(session, request, "completed", actor=ACTOR,
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
        checkpoint_wal(db)
    return completed


# --------------------------------------------------------------------------------------
# The certificate: what was destroyed, what was kept and why, who acknowledged.
#
# Built from what the erasure recorded in the audit trail (not recomputed from the member,
# who no longer has anything to read), signed as a compact JWS (ES256) with the service's
# active signing key; verify it with ``/.well-known/jwks.json``.

TYP = "erasure-certificate+jws"
ERASED_STATES = ("waiting_for_recipients", "completed")

WHY = {
    "tombstone": "GDPR Art. 17: to prove the erasure and honour it",
    "consent_records": "GDPR Art. 7(1): proof of consent",
    "suppression_hash": "keep the member's objection to marketing effective",
    "access_log": "GDPR Art. 5(2) and 30: accountability for every read; the entries hold "
                  "internal ids and field names, no personal values",
    "requests": "GDPR Art. 5(2) and 12: proof that the request was received and answered "
                "in time",
    "audit_trail": "GDPR Art. 5(2): accountability; entries name fields, never values",
    "outbox_events": "GDPR Art. 19 and 5(2): the record of which recipients were told of "
                     "changes to the member's data and of this erasure; no personal values",
    "deliveries": "GDPR Art. 19: proof that each recipient was told and acknowledged",
    "legal_holds": "GDPR Art. 5(2) and 17(3)(e): the record of what was kept from erasure, "
                   "for how long and why; holds are never deleted",
}


class CertificateError(RequestError):
    """No certificate: ``NOT_FOUND`` (no such erasure request) or ``NOT_ERASED``."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _erasure_record(session: Session, request: DataSubjectRequest) -> AuditEvent | None:
    """The audit entry of this request's erasure, else the member's (erased before)."""
    events = list(session.scalars(
        select(AuditEvent).where(AuditEvent.member_id == request.member_id,
                                 AuditEvent.action == "member.erased")
        .order_by(AuditEvent.id)))
    own = [e for e in events if (e.details or {}).get("request_id") == str(request.id)]
    found = own or events
    return found[0] if found else None


def _held_erasures(session: Session, request: DataSubjectRequest) -> list[dict[str, Any]]:
    """What this request erased while legal holds kept the rest (``destroyed`` of each
    ``member.erasure_held`` record), oldest first."""
    found = []
    for event in session.scalars(select(AuditEvent).where(
            AuditEvent.member_id == request.member_id, AuditEvent.action == HELD_RECORD)
            .order_by(AuditEvent.id)):
        details: dict[str, Any] = dict(event.details or {})
        if details.get("request_id") == str(request.id):
            found.append(dict(details.get("destroyed") or {}))
    return found


def build(session: Session, policy: Policy, request_id: uuid.UUID, *, issuer: str,
          now: dt.datetime) -> dict[str, Any]:
    request = session.get(DataSubjectRequest, request_id)
    if request is None or request.type != "erasure":
        raise CertificateError("NOT_FOUND", "no such erasure request")
    if request.state not in ERASED_STATES:
        raise CertificateError("NOT_ERASED", f"the request is {request.state}: there is no "
                               "erasure to certify")
    record = _erasure_record(session, request)
    if record is None:
        raise CertificateError("NOT_ERASED", "no erasure is recorded for this member")
    details: dict[str, Any] = dict(record.details or {})
    destroyed_facts: dict[str, Any] = dict(details.get("destroyed") or {})
    kept_names = list(details.get("kept") or [])
    # What a legal hold let this request erase earlier, while it kept the rest.
    earlier = _held_erasures(session, request)
    destroyed_facts["attributes"] = list(dict.fromkeys(
        [a for e in earlier for a in e.get("attributes", [])]
        + list(destroyed_facts.get("attributes", []))))
    destroyed_facts["blind_indexes"] = list(dict.fromkeys(
        [k for e in earlier for k in e.get("blind_indexes", [])]
        + list(destroyed_facts.get("blind_indexes", []))))
    for count_of in ("sign_in_codes", "export_archives", "mail_messages"):
        destroyed_facts[count_of] = int(destroyed_facts.get(count_of, 0)) + sum(
            int(e.get(count_of, 0)) for e in earlier)

    destroyed: list[dict[str, Any]] = [{
        "item": "data_key",
        "detail": "the member's AES-256-GCM data key (wrapped by key-encryption key version "
                  f"{destroyed_facts.get('kek_version')}) was deleted: every value sealed "
                  "under it can no longer be decrypted",
    }]
    destroyed += [{"item": "attribute", "attribute": name,
                   "category": policy.category_of(name)}
                  for name in destroyed_facts.get("attributes", [])]
    destroyed.append({"item": "blind_indexes",
                      "detail": "keyed equality indexes: the member can no longer be found "
                                "by email, phone or member number",
                      "indexes": list(destroyed_facts.get("blind_indexes", []))})
    destroyed.append({"item": "sign_in_codes",
                      "count": int(destroyed_facts.get("sign_in_codes", 0))})
    destroyed.append({"item": "export_archives",
                      "count": int(destroyed_facts.get("export_archives", 0))})
    if int(destroyed_facts.get("mail_messages", 0)):
        destroyed.append({"item": "mail", "detail": "the messages to the member's address "
                          "kept by the service's development mailbox",
                          "count": int(destroyed_facts["mail_messages"])})
    destroyed.append({"item": "consent_state",
                      "detail": "the current-consent projection and objections (the "
                                "records they derive from are kept, see below)",
                      "count": int(destroyed_facts.get("consent_state_rows", 0))
                      + int(destroyed_facts.get("objections", 0))})
    destroyed.append({"item": "last_activity",
                      "detail": "overwritten with the time of erasure"})

    consent_records = session.scalar(select(func.count()).select_from(ConsentRecord)
                                     .where(ConsentRecord.member_id == request.member_id))
    log_entries, _ = member_index.count_of_member(session, request.member_id)
    kept: list[dict[str, Any]] = [
        {"item": "tombstone", "what": "the member's internal id, status 'erased', the times "
         "of registration and erasure", "why": WHY["tombstone"]},
        {"item": "consent_records", "what": "every consent record (purpose, decision, notice "
         "version, time, channel, actor, GPC flag; the user agent and IP hash are removed at "
         "erasure), no personal values",
         "count": int(consent_records or 0), "why": WHY["consent_records"]},
    ]
    if "suppression_hash" in kept_names:
        kept.append({"item": "suppression_hash", "what": "a keyed hash (HMAC-SHA256) of the "
                     "email address on the marketing suppression list, not the address",
                     "why": WHY["suppression_hash"]})
    events = session.scalar(select(func.count()).select_from(OutboxEvent)
                            .where(OutboxEvent.member_id == request.member_id))
    deliveries = session.scalar(
        select(func.count()).select_from(Delivery)
        .join(OutboxEvent, Delivery.event_id == OutboxEvent.id)
        .where(OutboxEvent.member_id == request.member_id))
    kept += [
        {"item": "access_log", "what": "entries of reads of the member's data",
         "count": int(log_entries or 0), "why": WHY["access_log"]},
        {"item": "requests", "what": "this request and its transitions",
         "why": WHY["requests"]},
        {"item": "audit_trail", "what": "administrative events about the member",
         "why": WHY["audit_trail"]},
        {"item": "outbox_events", "what": "the events about the member sent to other services "
         "(type, time, facts such as the purpose or the fields changed; never a value), "
         "this erasure's among them; deleted by the retention rule for delivered events",
         "count": int(events or 0), "why": WHY["outbox_events"]},
        {"item": "deliveries", "what": "each event's delivery to each recipient: state, "
         "delivery and acknowledgement times",
         "count": int(deliveries or 0), "why": WHY["deliveries"]},
    ]
    holds_kept = session.scalar(select(func.count()).select_from(LegalHold)
                                .where(LegalHold.member_id == request.member_id))
    if holds_kept or "legal_holds" in kept_names:
        kept.append({"item": "legal_holds", "what": "the legal holds placed on the member: "
                     "reason, data covered, who placed and lifted them, when",
                     "count": int(holds_kept or 0), "why": WHY["legal_holds"]})
    completed_at = request.closed_at if request.state == "completed" else None
    return {
        "type": "erasure-certificate",
        "version": 1,
        "issuer": issuer,
        "issuedAt": _iso(now),
        "requestId": str(request.id),
        "memberId": str(request.member_id),
        "jurisdiction": request.jurisdiction,
        "legalBasis": "GDPR Art. 17 (erasure) and Art. 19 (notification of recipients)",
        "state": request.state,
        "receivedAt": _iso(request.received_at),
        "erasedAt": _iso(record.at),
        "completedAt": _iso(completed_at),
        "destroyed": destroyed,
        "kept": kept,
        "recipients": [{"clientId": d.client_id, "deliveryState": d.state,
                        "deliveredAt": _iso(d.delivered_at),
                        "acknowledgedAt": _iso(d.acknowledged_at)}
                       for d in deliveries_of(session, request.id)],
    }


def sign(document: dict[str, Any], key: Key) -> str:
    return sign_document(document, key, TYP)


def erasure_certificate(uow: UnitOfWork, policy: Policy, request_id: uuid.UUID, *,
                        issuer: str, signing_key: Callable[[], Key],
                        now: dt.datetime | None = None) -> tuple[dict[str, Any], str]:
    """The certificate of one erasure request and its compact JWS (ES256) under the
    active signing key (asked for only once there is a certificate to sign); reads only.

    Raises :class:`CertificateError` (``NOT_FOUND``, ``NOT_ERASED``)."""
    document = build(uow.session, policy, request_id, issuer=issuer, now=now or utcnow())
    return document, sign(document, signing_key())
