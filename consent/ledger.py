"""The consent ledger: append a record, update the projection, in one transaction.

Records are never changed; the ``consents`` table is a projection that
:func:`rebuild_projection` can recompute from the records at any time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from audit import trail
from consent import evidence as consent_evidence
from consent import notify
from consent.errors import ConsentError
from consent.evidence import Evidence
from consent.models import Consent, ConsentRecord, Objection
from consent.notices import notice_hash
from identity.encryption import MemberCrypto
from identity.models import Member
from vaultkernel.clock import utcnow
from vaultkernel.policy import Policy, Purpose

CHANNELS = ("web", "app", "store", "api", "import")


def consentable(policy: Policy, purpose_key: str) -> Purpose:
    purpose = policy.purposes.get(purpose_key)
    if purpose is None:
        raise ConsentError("UNKNOWN_PURPOSE", "no such purpose", field="purpose")
    if not purpose.consent_based:
        raise ConsentError("NOT_CONSENTABLE",
                           f"{purpose.key} rests on {purpose.legal_basis}, not consent",
                           field="purpose")
    return purpose


def record_consent(session: Session, policy: Policy, crypto: MemberCrypto,
                   member_id: uuid.UUID, purpose_key: str, *, granted: bool,
                   notice_version: int | None, channel: str, actor: str,
                   evidence: Evidence, language: str | None = None) -> ConsentRecord:
    """Grant or withdraw one purpose: one call either way (GDPR Art. 7(3)). The evidence
    that could identify the member is sealed under their data key (``consent.evidence``).
    ``language``: the language the member read the notice in (the policy's own when the
    policy has no notice in it); the record keeps it and the hash of that text."""
    purpose = consentable(policy, purpose_key)
    if channel not in CHANNELS:
        raise ConsentError("INVALID_CHANNEL", f"channel must be one of {', '.join(CHANNELS)}",
                           field="channel")
    if granted and notice_version != purpose.notice_version:
        raise ConsentError("NOTICE_OUTDATED",
                           f"consent must be given to notice version {purpose.notice_version}",
                           field="noticeVersion")
    member = session.get(Member, member_id)
    if (member is None or member.status != "active" or member.wrapped_key is None
            or member.kek_version is None):
        raise ConsentError("MEMBER_NOT_FOUND", "no such member")
    if granted and purpose.direct_marketing:
        _check_suppression(session, member, purpose, actor)
    now = utcnow()
    shown = policy.notice_language(language)
    receipt_id = uuid.uuid4()
    cipher = crypto.cipher(member.id, member.kek_version, member.wrapped_key)
    clear, sealed = consent_evidence.seal(cipher, receipt_id, evidence)
    record = ConsentRecord(
        receipt_id=receipt_id, member_id=member_id, purpose=purpose.key, granted=granted,
        notice_version=notice_version if granted and notice_version else purpose.notice_version,
        notice_hash=notice_hash(policy, purpose, shown), language=shown, at=now,
        channel=channel, actor=actor, evidence=clear, sealed_evidence=sealed)
    session.add(record)
    session.flush()
    _project(session, record)
    notify.consent_changed(session, member_id, purpose.key, granted, record.notice_version)
    return record


def _check_suppression(session: Session, member: Member, purpose: Purpose, actor: str) -> None:
    """A member whose address was on the marketing suppression list as it became theirs
    (``identity.suppression``) grants each direct-marketing purpose themself, once; until
    then nobody else may (``MARKETING_SUPPRESSED``). Their own first grant lifts it for
    that purpose, in the audit trail."""
    suppressed_at = member.marketing_suppressed_at
    if suppressed_at is None:
        return
    own = f"member:{member.id}"
    lifted = session.scalar(
        select(ConsentRecord.id).where(
            ConsentRecord.member_id == member.id, ConsentRecord.purpose == purpose.key,
            ConsentRecord.granted.is_(True), ConsentRecord.actor == own,
            ConsentRecord.at >= suppressed_at).limit(1))
    if lifted is not None:
        return
    if actor != own:
        raise ConsentError("MARKETING_SUPPRESSED",
                           "this member's address is on the marketing suppression list: "
                           "only the member can grant direct marketing, in their privacy "
                           "centre", field="purpose")
    trail.record(session, actor, "marketing.suppression_lifted", member.id,
                 purpose=purpose.key)


def _project(session: Session, record: ConsentRecord) -> None:
    current = session.get(Consent, (record.member_id, record.purpose))
    if current is None:
        session.add(Consent(member_id=record.member_id, purpose=record.purpose,
                            granted=record.granted, notice_version=record.notice_version,
                            updated_at=record.at, record_id=record.id))
    else:
        current.granted = record.granted
        current.notice_version = record.notice_version
        current.updated_at = record.at
        current.record_id = record.id


def apply_gpc(session: Session, policy: Policy, crypto: MemberCrypto, member_id: uuid.UUID, *,
              actor: str, evidence: Evidence) -> list[ConsentRecord]:
    """Global Privacy Control: an opt-out of every sale/sharing purpose.

    Withdraws each one currently granted, and records the opt-out once for each never
    given, so the signal itself is on record; an existing withdrawal is left as it is.
    """
    keys = [p.key for p in policy.sale_or_sharing]
    if not keys:
        return []
    state = {row.purpose: row for row in session.scalars(
        select(Consent).where(Consent.member_id == member_id, Consent.purpose.in_(keys)))}
    return [record_consent(session, policy, crypto, member_id, key, granted=False,
                           notice_version=None, channel="web", actor=actor, evidence=evidence)
            for key in keys if key not in state or state[key].granted]


def history(session: Session, member_id: uuid.UUID) -> list[ConsentRecord]:
    return list(session.scalars(
        select(ConsentRecord).where(ConsentRecord.member_id == member_id)
        .order_by(ConsentRecord.id)))


def current(session: Session, member_id: uuid.UUID) -> dict[str, Consent]:
    rows = session.scalars(select(Consent).where(Consent.member_id == member_id))
    return {row.purpose: row for row in rows}


def rebuild_projection(session: Session, member_ids: Iterable[uuid.UUID] | None = None) -> int:
    """Recompute ``consents`` from the records (all members, or some)."""
    query = select(ConsentRecord).order_by(ConsentRecord.id)
    wipe = delete(Consent)
    if member_ids is not None:
        ids = list(member_ids)
        query = query.where(ConsentRecord.member_id.in_(ids))
        wipe = wipe.where(Consent.member_id.in_(ids))
    session.execute(wipe)
    latest: dict[tuple[uuid.UUID, str], ConsentRecord] = {}
    for record in session.scalars(query):
        latest[(record.member_id, record.purpose)] = record
    live = set(session.scalars(select(Member.id).where(Member.status == "active")))
    rows = [Consent(member_id=m, purpose=p, granted=r.granted, notice_version=r.notice_version,
                    updated_at=r.at, record_id=r.id)
            for (m, p), r in latest.items() if m in live]
    session.add_all(rows)
    return len(rows)


def set_objection(session: Session, policy: Policy, member_id: uuid.UUID, purpose_key: str, *,
                  objected: bool, actor: str) -> None:
    """Object to (or withdraw an objection to) a legitimate-interest purpose (Art. 21)."""
    purpose = policy.purposes.get(purpose_key)
    if purpose is None:
        raise ConsentError("UNKNOWN_PURPOSE", "no such purpose", field="purpose")
    if not purpose.objectable:
        raise ConsentError("NOT_OBJECTABLE",
                           f"{purpose.key} rests on {purpose.legal_basis}; objection applies to "
                           "legitimate-interest purposes (withdraw consent instead)",
                           field="purpose")
    existing = session.get(Objection, (member_id, purpose.key))
    if objected and existing is None:
        session.add(Objection(member_id=member_id, purpose=purpose.key, actor=actor))
    elif not objected and existing is not None:
        session.delete(existing)
    else:
        return
    notify.objected(session, member_id, purpose.key, objected)


def set_restriction(session: Session, policy: Policy, member_id: uuid.UUID, *,
                    restricted: bool) -> bool:
    """Restrict processing (Art. 18) or lift it; returns whether anything changed."""
    member = session.get(Member, member_id)
    if member is None or member.status != "active":
        raise ConsentError("MEMBER_NOT_FOUND", "no such member")
    if not restricted and member.erasure_held_at is not None:
        raise ConsentError("ERASURE_HELD", "processing stays restricted while the erasure "
                           "of what a legal hold keeps waits for the hold to end")
    if restricted == (member.restricted_at is not None):
        return False
    member.restricted_at = utcnow() if restricted else None
    notify.restricted(session, policy, member_id, restricted)
    return True


def objections(session: Session, member_id: uuid.UUID) -> list[str]:
    return list(session.scalars(select(Objection.purpose).where(Objection.member_id == member_id)))


def find_record(session: Session, receipt_id: uuid.UUID) -> ConsentRecord | None:
    return session.scalars(
        select(ConsentRecord).where(ConsentRecord.receipt_id == receipt_id)).first()


def scrub_evidence(session: Session, member_ids: Iterable[uuid.UUID]) -> int:
    """At erasure, keep of each record's evidence only the GPC flag. The user agent and
    the keyed IP hash (the IPv4 space is small enough to search) could identify the
    member once their other data is gone: they are sealed under the member's data key,
    which the erasure destroys (so the old row versions hold only ciphertext); the sealed
    part is dropped too, and so is any identifying evidence still in the clear (rows
    written in the clear by other means than ``record_consent``). One UPDATE for the
    whole set, whatever the number of records. Returns how many records were scrubbed."""
    evidence = ConsentRecord.evidence
    identifying = or_(ConsentRecord.sealed_evidence.is_not(None),
                      evidence["ip_hash"].as_string() != "",
                      evidence["user_agent"].as_string() != "")
    scrubbed = case((evidence["gpc"].as_boolean(), _scrubbed(gpc=True)),
                    else_=_scrubbed(gpc=False))
    result = session.execute(
        update(ConsentRecord)
        .where(ConsentRecord.member_id.in_(list(member_ids)), identifying)
        .values(evidence=scrubbed, sealed_evidence=None)
        .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _scrubbed(*, gpc: bool) -> Any:
    return literal({"gpc": gpc, "scrubbed_at_erasure": True}, ConsentRecord.evidence.type)
