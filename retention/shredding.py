"""Erasure of many members at once, for retention: the same crypto-shredding as an
erasure request (retention/erasure.py), done with set-based statements per batch.

Per member only what needs the member's own key happens in Python (reading the member
number for recipients and the email for the suppression hash); everything else is one
statement per batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from audit.models import AuditEvent
from consent.ledger import scrub_evidence
from consent.models import Consent, ConsentRecord, Objection
from export.models import ExportArchive
from identity.errors import KeyringError
from identity.models import PERSONAL_FIELDS, Member, SignInCode
from membervault.services import Services
from outbox.models import Delivery, OutboxEvent
from outbox.recipients import recipients, subscribers
from retention.erasure import MARKETING_PREFIX, seal_member_number, suppression_hash
from retention.models import SuppressedEmail
from vaultkernel.retention_rules import RetentionRule
from vaultkernel.sealing import TamperedCiphertext

log = logging.getLogger("membervault.retention")
ACTOR = "system:retention"
ERASED_VALUES: dict[str, Any] = {
    **{name: None for name in PERSONAL_FIELDS},
    "wrapped_key": None, "kek_version": None, "email_index": None, "phone_index": None,
    "member_number_index": None, "status": "erased",
}


def _open(services: Services, row: Any, fields: Sequence[str]) -> dict[str, str | None]:
    """Decrypt some fields of a member row; a damaged key or value never blocks erasure."""
    if row.wrapped_key is None or row.kek_version is None:
        return dict.fromkeys(fields)
    try:
        cipher = services.crypto.cipher(row.id, row.kek_version, row.wrapped_key)
        return {f: (cipher.decrypt(f, getattr(row, f)) if getattr(row, f) is not None else None)
                for f in fields}
    except (TamperedCiphertext, KeyringError) as exc:
        log.warning("a member could not be opened for erasure (%s)", type(exc).__name__)
        return dict.fromkeys(fields)


def _latest_marketing(session: Session, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Members whose latest record for some marketing purpose is a withdrawal."""
    latest: dict[tuple[uuid.UUID, str], bool] = {}
    for member_id, purpose, granted in session.execute(
            select(ConsentRecord.member_id, ConsentRecord.purpose, ConsentRecord.granted)
            .where(ConsentRecord.member_id.in_(ids),
                   ConsentRecord.purpose.startswith(MARKETING_PREFIX, autoescape=True))
            .order_by(ConsentRecord.id)):
        latest[(member_id, purpose)] = bool(granted)
    return {m for (m, _), granted in latest.items() if not granted}


def _granted_purposes(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    granted: dict[uuid.UUID, set[str]] = defaultdict(set)
    for member_id, purpose in session.execute(
            select(ConsentRecord.member_id, ConsentRecord.purpose)
            .where(ConsentRecord.member_id.in_(ids), ConsentRecord.granted.is_(True))
            .distinct()):
        granted[member_id].add(purpose)
    return granted


def shred_members(session: Session, services: Services, ids: list[uuid.UUID], *,
                  now: dt.datetime, reason: str) -> int:
    """Erase a batch of members in the caller's transaction; returns how many."""
    rows = session.execute(select(Member.id, Member.kek_version, Member.wrapped_key,
                                  Member.member_number, Member.email, Member.email_index)
                           .where(Member.id.in_(ids), Member.status == "active")).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    keyring, policy = services.keyring, services.policy
    opted_out = _latest_marketing(session, ids)
    granted = _granted_purposes(session, ids)
    always = {p.key for p in policy.purposes.values() if not p.consent_based}
    suppressions: dict[bytes, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    recipients_of: dict[frozenset[str], list[str]] = {}
    among = subscribers(session)
    for row in rows:
        values = _open(services, row, ("member_number", "email"))
        if values["email"] and row.id in opted_out:
            digest = suppression_hash(keyring, values["email"])
            suppressions[digest] = {"email_hash": digest, "added_at": now,
                                    "reason": "marketing_opt_out"}
        purposes = frozenset(always | granted.get(row.id, set()))
        if purposes not in recipients_of:
            recipients_of[purposes] = recipients(session, set(purposes), among)
        to_notify = recipients_of[purposes]
        event_id = uuid.uuid4()
        events.append({"id": event_id, "type": "member.erased", "member_id": row.id,
                       "facts": {"erasedAt": now.isoformat(), "retentionRule": reason},
                       "sealed_member_number": seal_member_number(keyring,
                                                                  values["member_number"])
                       if to_notify and values["member_number"] else None,
                       "created_at": now, "request_id": None})
        deliveries += [{"event_id": event_id, "client_id": c, "state": "pending", "attempts": 0,
                        "next_attempt_at": now} for c in to_notify]
        audits.append({"at": now, "actor": ACTOR, "action": "member.erased", "member_id": row.id,
                       "details": {"retention_rule": reason, "recipients": to_notify,
                                   "suppressed": row.id in opted_out}})
    email_indexes = [r.email_index for r in rows if r.email_index is not None]
    if suppressions:
        known = set(session.scalars(select(SuppressedEmail.email_hash)
                                    .where(SuppressedEmail.email_hash.in_(list(suppressions)))))
        fresh = [v for k, v in suppressions.items() if k not in known]
        if fresh:
            session.execute(insert(SuppressedEmail), fresh)
    base = Path(services.settings.export_dir)
    for path in session.scalars(select(ExportArchive.path)
                                .where(ExportArchive.member_id.in_(ids))):
        (Path(path) if Path(path).is_absolute() else base / path).unlink(missing_ok=True)
    session.execute(delete(ExportArchive).where(ExportArchive.member_id.in_(ids)))
    if email_indexes:
        session.execute(delete(SignInCode).where(SignInCode.email_index.in_(email_indexes)))
    scrub_evidence(session, ids)
    session.execute(delete(Consent).where(Consent.member_id.in_(ids)))
    session.execute(delete(Objection).where(Objection.member_id.in_(ids)))
    session.execute(update(Member).where(Member.id.in_(ids))
                    .values(**ERASED_VALUES, erased_at=now, updated_at=now,
                            last_activity_at=now)
                    .execution_options(synchronize_session=False))
    session.execute(insert(OutboxEvent), events)
    if deliveries:
        session.execute(insert(Delivery), deliveries)
    session.execute(insert(AuditEvent), audits)
    return len(rows)


def mark_inactive_notified(session: Session, services: Services, ids: list[uuid.UUID], *,
                           now: dt.datetime) -> list[str]:
    """Record the inactivity notice of a batch; returns the addresses to mail once the
    batch has committed (a mail is never sent for a notice that was not recorded)."""
    rows = session.execute(select(Member.id, Member.kek_version, Member.wrapped_key,
                                  Member.email).where(Member.id.in_(ids))).all()
    session.execute(update(Member).where(Member.id.in_([r.id for r in rows]))
                    .values(inactivity_notice_at=now)
                    .execution_options(synchronize_session=False))
    return [e for e in (_open(services, r, ("email",))["email"] for r in rows) if e]


def mail_inactivity_notices(services: Services, emails: list[str], rule: RetentionRule) -> int:
    """Send the notices; a failed send is logged by type only (never the address)."""
    sent = 0
    for email in emails:
        try:
            services.mailer.send(
                email, "Your membership will end for inactivity",
                f"We have not seen you for a while. Unless you use your membership in the "
                f"next {rule.notice_days} days, we will erase your membership and all your "
                f"personal data, as our retention policy says.")
            sent += 1
        except Exception as exc:  # noqa: BLE001  (one bad address must not stop the rest)
            log.warning("an inactivity notice could not be sent (%s)", type(exc).__name__)
    return sent
