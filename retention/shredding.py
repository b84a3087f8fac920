"""The one erasure (design rule 5): crypto-shredding plus propagation, for a set of members.

Erasure requests (``subject_requests/erasure.py``, one member at a time) and the retention sweep
(``retention/sweeper.py``, a batch at a time) both call :func:`erase_members`; only the
:class:`ErasureCause` differs (a request or a retention rule). Inside the caller's
transaction it

- reads what needs the member's own key, per member in Python: the member number (sealed
  for recipients, ``outbox.secrets``) and the email (its suppression hash, kept when the
  member's latest record for some purpose the policy marks ``direct_marketing`` withdraws);
- then, with one statement per kind for the whole set: keeps the suppression hashes,
  deletes sign-in codes, scrubs consent evidence, deletes the consent projection and
  objections, destroys the data key, every ciphertext and every blind index, emits
  ``member.erased`` with its deliveries to every client that may hold the member's data,
  writes one ``member.erased`` audit-trail record per member (what was destroyed and
  kept), and last deletes the export archives, files and rows.

A crash before the caller commits leaves every member as they were. The caller runs
:func:`checkpoint_wal` after committing. See docs/erasure.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from audit.models import AuditEvent
from consent.ledger import scrub_evidence
from consent.models import Consent, ConsentRecord, Objection
from export.archive import delete_archives_of
from export.models import ExportArchive
from identity.encryption import MemberCrypto
from identity.errors import KeyringError
from identity.keyring import Keyring
from identity.models import PERSONAL_FIELDS, Member, SignInCode, SignInGuess, SuppressedEmail
from identity.names import PUBLIC_NAME
from identity.suppression import address_hash
from outbox.recipients import recipients, subscribers
from outbox.secrets import seal_member_number
from outbox.writer import Emission, emit, emit_many
from retention import holds
from retention.holds import Coverage
from retention.models import LegalHold
from vaultkernel.database import Database, insert_rows
from vaultkernel.mailer import SentMail
from vaultkernel.policy import Policy
from vaultkernel.sealing import TamperedCiphertext

log = logging.getLogger("membervault.erasure")

EVENT = "member.erased"
BLIND_INDEXES = ("email", "phone", "member_number")
KEPT = ("tombstone", "consent_records", "access_log", "requests", "audit_trail",
        "outbox_events", "deliveries")
ERASED_VALUES: dict[str, Any] = {
    **{name: None for name in PERSONAL_FIELDS},
    "wrapped_key": None, "kek_version": None,
    **{f"{kind}_index": None for kind in BLIND_INDEXES},
    "status": "erased",
}


# The ids of some members' access requests (their export files are named after them).
AccessRequests = Callable[[Session, Sequence[uuid.UUID]], Collection[uuid.UUID]]


@dataclass(frozen=True)
class ErasureKit:
    """What erasing members needs besides the session: the member crypto (to read the
    member number and email before the key goes), the keyring (suppression and
    outbox sub-keys), the policy (which purposes give clients data), the export
    directory (archive files), the members' access requests (leftover files of their
    exports; the requests live above retention, in ``subject_requests``) and the mailer's
    kept mail (the development mailbox, purged of the members' messages). Built once by
    the composition root."""

    crypto: MemberCrypto
    keyring: Keyring
    policy: Policy
    export_dir: Path
    access_requests: AccessRequests
    sent_mail: SentMail  # what the service keeps of mail it sent (the development mailbox)


@dataclass(frozen=True)
class ErasureCause:
    """Why members are erased: an erasure request, or a retention rule. It names the
    actor, is recorded in the audit trail and is told to recipients; nothing else about
    an erasure depends on it."""

    actor: str
    request_id: uuid.UUID | None = None
    retention_rule: str | None = None

    @classmethod
    def request(cls, request_id: uuid.UUID) -> ErasureCause:
        return cls(actor="system:erasure", request_id=request_id)

    @classmethod
    def rule(cls, name: str) -> ErasureCause:
        return cls(actor="system:retention", retention_rule=name)

    def facts(self, now: dt.datetime) -> dict[str, object]:
        """The event's facts (the same keys, in the same order, as ever)."""
        if self.request_id is not None:
            return {"requestId": str(self.request_id), "erasedAt": now.isoformat()}
        return {"erasedAt": now.isoformat(), "retentionRule": self.retention_rule}

    @property
    def around_holds(self) -> bool:
        """A request erases around a legal hold (what the hold covers is kept and
        restricted); a retention rule leaves a held member alone."""
        return self.request_id is not None

    def details(self) -> dict[str, object]:
        """The audit-trail record's cause."""
        if self.request_id is not None:
            return {"request_id": str(self.request_id)}
        return {"retention_rule": self.retention_rule}


@dataclass
class ErasureReport:
    """What one member's erasure destroyed and kept (names and counts, never values)."""

    member_id: uuid.UUID
    attributes: list[str]
    blind_indexes: list[str]
    kek_version: int | None
    sign_in_codes: int = 0
    mail_messages: int = 0
    export_archives: int = 0
    consent_state_rows: int = 0
    objections: int = 0
    suppressed: bool = False
    legal_holds: int = 0  # rows of holds placed on the member (lifted or expired), kept
    member_number_captured: bool = False
    recipients: list[str] = field(default_factory=list)
    event_id: uuid.UUID | None = None
    sealed_member_number: bytes | None = field(default=None, repr=False)
    # Held by a legal hold: what it keeps (restricted) instead of being erased.
    held: Coverage | None = None
    kept_attributes: list[str] = field(default_factory=list)

    def as_details(self) -> dict[str, Any]:
        if self.held is not None:
            return self._held_details(self.held)
        return {
            "destroyed": {
                "data_key": True, "kek_version": self.kek_version,
                "attributes": self.attributes, "blind_indexes": self.blind_indexes,
                "sign_in_codes": self.sign_in_codes, "export_archives": self.export_archives,
                "mail_messages": self.mail_messages,
                "consent_state_rows": self.consent_state_rows, "objections": self.objections,
                "last_activity": True,
            },
            "kept": [*KEPT, *(["suppression_hash"] if self.suppressed else []),
                     *(["legal_holds"] if self.legal_holds else [])],
            "suppressed": self.suppressed,
            "member_number_captured": self.member_number_captured,
        }

    def _held_details(self, held: Coverage) -> dict[str, Any]:
        return {
            "destroyed": {
                "attributes": self.attributes, "blind_indexes": self.blind_indexes,
                "sign_in_codes": self.sign_in_codes, "export_archives": self.export_archives,
                "mail_messages": self.mail_messages,
            },
            "kept": {"attributes": self.kept_attributes,
                     "categories": None if held.categories is None else sorted(held.categories),
                     "holds": [str(h.id) for h in held.holds]},
            "restricted": True,
            "suppressed": self.suppressed,
        }


# --------------------------------------------------------------------------------------
# The erasure


def erase_members(session: Session, kit: ErasureKit, ids: Sequence[uuid.UUID], *,
                  now: dt.datetime, cause: ErasureCause) -> list[ErasureReport]:
    """Erase these members inside the caller's transaction (which commits or rolls back);
    returns one report per member erased, skipping ids that are unknown or already
    erased.

    A member under an active legal hold is skipped by a retention rule. For an erasure
    request, what the member's holds do not cover is erased and the rest is kept,
    restricted (GDPR Art. 17(3)(e), 18(2)), until the holds end and the request erases
    the member again: their report has ``held`` set (see :func:`_erase_around_holds`)."""
    present = [Member.id, Member.kek_version, Member.wrapped_key, Member.member_number,
               Member.email, Member.email_index, Member.restricted_at]
    flags = [getattr(Member, name).is_not(None).label(f"has_{name}")
             for name in (*PERSONAL_FIELDS, *(f"{k}_index" for k in BLIND_INDEXES))]
    rows = session.execute(select(*present, *flags)
                           .where(Member.id.in_(list(ids)), Member.status != "erased")
                           .order_by(Member.id).with_for_update()).all()
    if not rows:
        return []
    cover = holds.coverage(session, [row.id for row in rows], now)
    free = [row for row in rows if row.id not in cover]
    held = [row for row in rows if row.id in cover] if cause.around_holds else []
    return [*_shred(session, kit, free, now=now, cause=cause),
            *(_erase_around_holds(session, kit, row, cover[row.id], now=now, cause=cause)
              for row in held)]


def _shred(session: Session, kit: ErasureKit, rows: Sequence[Any], *, now: dt.datetime,
           cause: ErasureCause) -> list[ErasureReport]:
    """The whole erasure of members no legal hold keeps (rows locked by the caller)."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    opted_out = _direct_marketing_withdrawn(session, kit.policy.direct_marketing, ids)
    granted = _granted_purposes(session, ids)
    always = {p.key for p in kit.policy.purposes.values() if not p.consent_based}
    among = subscribers(session)
    recipients_of: dict[frozenset[str], list[str]] = {}
    reports: list[ErasureReport] = []
    emails: dict[uuid.UUID, str] = {}
    suppressions: dict[bytes, dict[str, Any]] = {}
    for row in rows:
        report = ErasureReport(
            member_id=row.id,
            attributes=[f for f in PERSONAL_FIELDS if getattr(row, f"has_{f}")],
            blind_indexes=[k for k in BLIND_INDEXES if getattr(row, f"has_{k}_index")],
            kek_version=row.kek_version)
        number, email = _read_for_erasure(kit, row)
        if email:
            emails[row.id] = email
        purposes = frozenset(always | granted.get(row.id, set()))
        if purposes not in recipients_of:
            recipients_of[purposes] = recipients(session, set(purposes), among)
        report.recipients = recipients_of[purposes]
        report.member_number_captured = number is not None
        if number is not None and report.recipients:
            report.sealed_member_number = seal_member_number(kit.keyring, number)
        if email and row.id in opted_out:
            digest = address_hash(kit.crypto, email)
            suppressions[digest] = {"email_hash": digest, "added_at": now,
                                    "reason": "marketing_opt_out"}
            report.suppressed = True
        reports.append(report)
    by_id = {report.member_id: report for report in reports}

    if suppressions:
        known = set(session.scalars(select(SuppressedEmail.email_hash)
                                    .where(SuppressedEmail.email_hash.in_(list(suppressions)))))
        fresh = [v for k, v in suppressions.items() if k not in known]
        if fresh:
            insert_rows(session, SuppressedEmail, fresh)
    owner_of = {row.email_index: row.id for row in rows if row.email_index is not None}
    if owner_of:
        for index in _deleted(session, delete(SignInCode).where(
                SignInCode.email_index.in_(list(owner_of))).returning(SignInCode.email_index)):
            by_id[owner_of[index]].sign_in_codes += 1
        # Wrong sign-in guesses count for 15 minutes; they hold the blind index too.
        session.execute(delete(SignInGuess).where(SignInGuess.email_index.in_(list(owner_of))))
    scrub_evidence(session, ids)
    for member_id in _deleted(session, delete(Consent).where(
            Consent.member_id.in_(ids)).returning(Consent.member_id)):
        by_id[member_id].consent_state_rows += 1
    for member_id in _deleted(session, delete(Objection).where(
            Objection.member_id.in_(ids)).returning(Objection.member_id)):
        by_id[member_id].objections += 1
    # Crypto-shredding: the data key, every ciphertext and every blind index.
    session.execute(update(Member).where(Member.id.in_(ids))
                    .values(**ERASED_VALUES, erased_at=now, updated_at=now,
                            last_activity_at=now)
                    .execution_options(synchronize_session=False))
    event_ids = emit_many(session, EVENT, [
        Emission(member_id=r.member_id, facts=cause.facts(now), recipients=r.recipients,
                 sealed_member_number=r.sealed_member_number, request_id=cause.request_id)
        for r in reports], now=now)
    for report, event_id in zip(reports, event_ids, strict=True):
        report.event_id = event_id
    archives: Counter[uuid.UUID] = Counter()
    for member_id, archived in session.execute(
            select(ExportArchive.member_id, func.count()).where(ExportArchive.member_id.in_(ids))
            .group_by(ExportArchive.member_id)):
        archives[member_id] = int(archived)
    for report in reports:
        report.export_archives = archives[report.member_id]
    for member_id, held in session.execute(
            select(LegalHold.member_id, func.count()).where(LegalHold.member_id.in_(ids))
            .group_by(LegalHold.member_id)):
        by_id[member_id].legal_holds = int(held)
    # Files last, just before the caller commits: a crash in between leaves members
    # intact with files (mail, archives) already gone, which the retried erasure finds so.
    forgotten = kit.sent_mail.forget(emails.values()) if emails else Counter()
    for report in reports:
        email = emails.get(report.member_id)
        report.mail_messages = forgotten[email.strip().lower()] if email else 0
    insert_rows(session, AuditEvent, [
        {"at": now, "actor": cause.actor, "action": EVENT, "member_id": r.member_id,
         "details": {**cause.details(), "recipients": r.recipients, **r.as_details()}}
        for r in reports])
    # Archive files too: a crash before the commit leaves rows pointing at missing
    # files, which the retried erasure deletes.
    delete_archives_of(session, kit.export_dir, ids, kit.access_requests(session, ids))
    return reports


HELD_EVENT = "member.restricted"
HELD_RECORD = "member.erasure_held"


def _erase_around_holds(session: Session, kit: ErasureKit, row: Any, held: Coverage, *,
                        now: dt.datetime, cause: ErasureCause) -> ErasureReport:
    """An erasure request meets active legal holds: erase what they do not cover, keep
    what they cover and restrict its processing (GDPR Art. 17(3)(e), 18(2)).

    The attributes of categories no hold covers go, with their blind indexes (and, when
    the email goes, its sign-in codes, its suppression hash if the member had opted out
    of direct marketing, and its mail kept by the mailer); the export archives (copies)
    go; the member is restricted (every purpose denied ``PROCESSING_RESTRICTED``, which
    the member cannot lift while ``erasure_held_at`` is set) and recipients are told
    (``member.restricted``, with the fields erased). The data key stays: it still opens
    what is kept, for the hold's purpose. One ``member.erasure_held`` audit record says
    what went and what stays, under which holds."""
    keep = [f for f in PERSONAL_FIELDS if held.keeps(kit.policy.category_of(f))]
    erase = [f for f in PERSONAL_FIELDS if getattr(row, f"has_{f}") and f not in keep]
    report = ErasureReport(
        member_id=row.id, attributes=erase,
        blind_indexes=[k for k in BLIND_INDEXES
                       if getattr(row, f"has_{k}_index") and k not in keep],
        kek_version=row.kek_version, held=held,
        kept_attributes=[f for f in keep if getattr(row, f"has_{f}")])
    number, email = _read_for_erasure(kit, row)
    if "email" in erase and email:
        if row.id in _direct_marketing_withdrawn(session, kit.policy.direct_marketing,
                                                 [row.id]):
            digest = address_hash(kit.crypto, email)
            if session.get(SuppressedEmail, digest) is None:
                session.add(SuppressedEmail(email_hash=digest, added_at=now,
                                            reason="marketing_opt_out"))
            report.suppressed = True
        if row.email_index is not None:
            report.sign_in_codes = len(_deleted(session, delete(SignInCode).where(
                SignInCode.email_index == row.email_index).returning(SignInCode.id)))
    session.execute(update(Member).where(Member.id == row.id).values(
        **{f: None for f in erase}, **{f"{k}_index": None for k in report.blind_indexes},
        restricted_at=row.restricted_at or now, erasure_held_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    always = {p.key for p in kit.policy.purposes.values() if not p.consent_based}
    report.recipients = recipients(session, always | _granted_purposes(session, [row.id])
                                   .get(row.id, set()))
    sealed = (seal_member_number(kit.keyring, number)
              if number is not None and "member_number" in erase and report.recipients
              else None)
    report.event_id = emit(session, HELD_EVENT, row.id, {
        "restricted": True, "erasureHeld": True, "requestId": str(cause.request_id),
        "erasedFields": [PUBLIC_NAME[f] for f in erase]}, report.recipients,
        sealed_member_number=sealed).id
    report.export_archives = int(session.scalar(
        select(func.count()).select_from(ExportArchive)
        .where(ExportArchive.member_id == row.id)) or 0)
    if "email" in erase and email:
        report.mail_messages = kit.sent_mail.forget([email])[email.strip().lower()]
    session.add(AuditEvent(at=now, actor=cause.actor, action=HELD_RECORD, member_id=row.id,
                           details={**cause.details(), "recipients": report.recipients,
                                    **report.as_details()}))
    delete_archives_of(session, kit.export_dir, [row.id],
                       kit.access_requests(session, [row.id]))
    return report


def _deleted(session: Session, statement: Any) -> list[Any]:
    """Run a DELETE ... RETURNING one column; the returned values (one per row)."""
    return list(session.execute(statement,
                                execution_options={"synchronize_session": False}).scalars())


def _read_for_erasure(kit: ErasureKit, row: Any) -> tuple[str | None, str | None]:
    """The member number (for recipients) and email (for the suppression hash); ``None``
    for what cannot be read. A damaged key or ciphertext never blocks an erasure."""
    if row.wrapped_key is None or row.kek_version is None:
        return None, None
    try:
        cipher = kit.crypto.cipher(row.id, row.kek_version, row.wrapped_key)
        number = (cipher.decrypt("member_number", row.member_number)
                  if row.member_number is not None else None)
        email = cipher.decrypt("email", row.email) if row.email is not None else None
    except (TamperedCiphertext, KeyringError) as exc:
        log.warning("a member could not be opened for erasure (%s); erasing without the "
                    "member number or suppression hash", type(exc).__name__)
        return None, None
    return number, email


def _direct_marketing_withdrawn(session: Session, purposes: Sequence[str],
                                ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Members whose latest record for some direct-marketing purpose is a withdrawal."""
    latest: dict[tuple[uuid.UUID, str], bool] = {}
    for member_id, purpose, granted in session.execute(
            select(ConsentRecord.member_id, ConsentRecord.purpose, ConsentRecord.granted)
            .where(ConsentRecord.member_id.in_(ids), ConsentRecord.purpose.in_(purposes))
            .order_by(ConsentRecord.id)):
        latest[(member_id, purpose)] = bool(granted)
    return {m for (m, _), granted in latest.items() if not granted}


def _granted_purposes(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """Each member's consent purposes ever granted (``consent.notify.purposes_with_data``
    for a set)."""
    granted: dict[uuid.UUID, set[str]] = defaultdict(set)
    for member_id, purpose in session.execute(
            select(ConsentRecord.member_id, ConsentRecord.purpose)
            .where(ConsentRecord.member_id.in_(ids), ConsentRecord.granted.is_(True))
            .distinct()):
        granted[member_id].add(purpose)
    return granted


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
