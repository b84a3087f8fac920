"""The erasure certificate: what was destroyed, what was kept and why, who acknowledged.

Built from what the erasure recorded in the audit trail (not recomputed from the member,
who no longer has anything to read), signed as a compact JWS (ES256) with the service's
active signing key; verify it with ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from joserfc import jws
from joserfc.jwk import Key
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit.models import AccessLogEntry, AuditEvent
from consent.models import ConsentRecord
from export.models import DataSubjectRequest
from retention.erasure import deliveries_of
from vaultkernel.clock import utcnow
from vaultkernel.database import UnitOfWork
from vaultkernel.errors import DomainError
from vaultkernel.policy import Policy

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
}


class CertificateError(DomainError):
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
    destroyed.append({"item": "consent_state",
                      "detail": "the current-consent projection and objections (the "
                                "records they derive from are kept, see below)",
                      "count": int(destroyed_facts.get("consent_state_rows", 0))
                      + int(destroyed_facts.get("objections", 0))})
    destroyed.append({"item": "last_activity",
                      "detail": "overwritten with the time of erasure"})

    consent_records = session.scalar(select(func.count()).select_from(ConsentRecord)
                                     .where(ConsentRecord.member_id == request.member_id))
    log_entries = session.scalar(select(func.count()).select_from(AccessLogEntry)
                                 .where(AccessLogEntry.member_id == request.member_id))
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
    kept += [
        {"item": "access_log", "what": "entries of reads of the member's data",
         "count": int(log_entries or 0), "why": WHY["access_log"]},
        {"item": "requests", "what": "this request and its transitions",
         "why": WHY["requests"]},
        {"item": "audit_trail", "what": "administrative events about the member",
         "why": WHY["audit_trail"]},
    ]
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
    header = {"alg": "ES256", "kid": key.kid, "typ": TYP}
    payload = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return jws.serialize_compact(header, payload, key, algorithms=["ES256"])


def erasure_certificate(uow: UnitOfWork, policy: Policy, request_id: uuid.UUID, *,
                        issuer: str, signing_key: Key,
                        now: dt.datetime | None = None) -> tuple[dict[str, Any], str]:
    """The certificate of one erasure request and its compact JWS (ES256); reads only.

    Raises :class:`CertificateError` (``NOT_FOUND``, ``NOT_ERASED``)."""
    document = build(uow.session, policy, request_id, issuer=issuer, now=now or utcnow())
    return document, sign(document, signing_key)
