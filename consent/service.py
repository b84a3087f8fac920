"""Consent use cases: each takes the unit of work, makes the whole change and commits.

Entrypoints (GraphQL resolvers, HTTP handlers, CLI commands) call one of these and map
the result; the ledger's functions below them take a session and never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import Key

from audit import trail
from audit.access_log import COMPLIANCE, ReaderLog
from audit.chain import Read
from consent import ledger, receipts
from consent.errors import ConsentError
from consent.evidence import Evidence
from consent.models import ConsentRecord
from consent.status import PurposeStatus, overview
from identity import members
from identity.clients import consent_channel
from identity.encryption import MemberCrypto
from vaultkernel.database import UnitOfWork
from vaultkernel.policy import Policy

MAX_REASON = 500


@dataclass(frozen=True)
class ConsentChange:
    """A recorded grant or withdrawal and the consent state it leaves."""

    record: ConsentRecord
    consents: list[PurposeStatus]


@dataclass(frozen=True)
class ProcessingState:
    """Whether the member's processing is restricted (Art. 18) and what they objected to."""

    restricted: bool
    objected_purposes: list[str]


def change_consent(uow: UnitOfWork, policy: Policy, crypto: MemberCrypto, member_id: uuid.UUID,
                   purpose: str, *, granted: bool, notice_version: int | None, channel: str,
                   actor: str, evidence: Evidence, language: str | None = None) -> ConsentChange:
    """Grant or withdraw one purpose for a member (GDPR Art. 7(3): one call either way).

    A grant of a sale/sharing purpose in a request carrying the GPC signal is refused
    (``GPC_CONFLICT``): the signal is an opt-out of exactly those purposes. ``language``:
    the language the notice was shown in (the record keeps it and that text's hash)."""
    _refuse_gpc_conflict(policy, purpose, granted, evidence)
    with uow.committing() as session:
        record = ledger.record_consent(session, policy, crypto, member_id, purpose,
                                       granted=granted, notice_version=notice_version,
                                       channel=channel, actor=actor, evidence=evidence,
                                       language=language)
    return ConsentChange(record, consents_of(uow, policy, member_id))


def record_collected_consent(uow: UnitOfWork, policy: Policy, crypto: MemberCrypto, *,
                             client_id: str, member_number: str, purpose: str,
                             granted: bool, notice_version: int | None,
                             evidence: Evidence, log: ReaderLog) -> ConsentChange:
    """A consent a client collected on a member's behalf (a till, the app back end).

    Only clients registered to collect consent may (``FORBIDDEN``); the channel comes from
    the client's kind. The change is committed, then the read of the member's consent
    state for that purpose is written to the access log, and only that purpose's state is
    answered (the client learns nothing of the member's other consents)."""
    channel = consent_channel(uow.session, client_id)
    if channel is None:
        raise ConsentError("FORBIDDEN", "this client is not registered to collect consent")
    _refuse_gpc_conflict(policy, purpose, granted, evidence)
    member_id = members.id_by_number(uow, crypto, member_number)
    if member_id is None:
        raise ConsentError("MEMBER_NOT_FOUND", "no such member", field="memberNumber")
    with uow.committing() as session:
        record = ledger.record_consent(session, policy, crypto, member_id, purpose,
                                       granted=granted, notice_version=notice_version,
                                       channel=channel, actor=log.principal, evidence=evidence)
    log.record(purpose, [Read(member_id, [f"consent:{purpose}"])])
    changed = [s for s in consents_of(uow, policy, member_id) if s.purpose.key == purpose]
    return ConsentChange(record, changed)


def apply_gpc_signal(uow: UnitOfWork, policy: Policy, crypto: MemberCrypto,
                     member_id: uuid.UUID, *, actor: str,
                     evidence: Evidence) -> list[ConsentRecord]:
    """``Sec-GPC: 1`` from a member: record it and opt them out of every sale/sharing
    purpose. A member who is not active has nothing to opt out of."""
    try:
        with uow.committing() as session:
            return ledger.apply_gpc(session, policy, crypto, member_id, actor=actor,
                                    evidence=evidence)
    except ConsentError:
        return []


def set_objection(uow: UnitOfWork, policy: Policy, member_id: uuid.UUID, purpose: str, *,
                  objected: bool, actor: str) -> ProcessingState:
    """Object to a legitimate-interest purpose (Art. 21), or withdraw the objection."""
    with uow.committing() as session:
        ledger.set_objection(session, policy, member_id, purpose, objected=objected,
                             actor=actor)
    return processing_state(uow, member_id)


def set_own_restriction(uow: UnitOfWork, policy: Policy, member_id: uuid.UUID, *,
                        restricted: bool) -> ProcessingState:
    """The member restricts processing of their data (Art. 18), or lifts the restriction
    (whoever placed it)."""
    with uow.committing() as session:
        ledger.set_restriction(session, policy, member_id, restricted=restricted)
    return processing_state(uow, member_id)


def set_restriction_for(uow: UnitOfWork, policy: Policy, member_id: uuid.UUID, *,
                        restricted: bool, reason: str, actor: str) -> ProcessingState:
    """An officer restricts (or lifts) processing on a member's behalf; a change goes to
    the audit trail with the reason."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ConsentError("REASON_REQUIRED",
                           f"give a reason of at most {MAX_REASON} characters", field="reason")
    with uow.committing() as session:
        if ledger.set_restriction(session, policy, member_id, restricted=restricted):
            trail.record(session, actor,
                         "member.restricted" if restricted else "member.restriction_lifted",
                         member_id, reason=reason)
    return processing_state(uow, member_id)


def rebuild_consents(uow: UnitOfWork) -> int:
    """Recompute the current consent state of every member from the records."""
    with uow.committing() as session:
        return ledger.rebuild_projection(session)


def consents_of(uow: UnitOfWork, policy: Policy, member_id: uuid.UUID) -> list[PurposeStatus]:
    """Every purpose of the policy with the member's consent status."""
    session = uow.session
    return overview(policy, ledger.current(session, member_id),
                    ledger.objections(session, member_id))


@dataclass(frozen=True)
class SignedReceipt:
    """A consent receipt (:func:`consent.receipts.receipt`) and its compact JWS."""

    record: ConsentRecord
    document: dict[str, Any]
    jws: str


def consent_history(uow: UnitOfWork, member_id: uuid.UUID) -> list[ConsentRecord]:
    """Every consent record of the member, oldest first (reads only)."""
    return ledger.history(uow.session, member_id)


def consent_history_for_officer(uow: UnitOfWork, member_id: uuid.UUID, *,
                                log: ReaderLog) -> list[ConsentRecord]:
    """An officer's view of a member's consent records, oldest first: in the access log
    before it is returned (raises ``AccessLogUnavailable`` when it cannot be)."""
    records = ledger.history(uow.session, member_id)
    log.record(COMPLIANCE, [Read(member_id, ["consent_history"])])
    return records


def receipt_for_officer(uow: UnitOfWork, policy: Policy, receipt_id: uuid.UUID, *,
                        issuer: str, signing_key: Key, log: ReaderLog) -> SignedReceipt | None:
    """The signed receipt of any consent record, for an officer: in the access log (under
    the record's member) before it is returned; ``None`` for an unknown record."""
    record = ledger.find_record(uow.session, receipt_id)
    if record is None:
        return None
    document = receipts.receipt_for(uow.session, record, policy, issuer=issuer)
    log.record(COMPLIANCE, [Read(record.member_id, ["consent_receipt"])])
    return SignedReceipt(record, document, receipts.sign(document, signing_key))


def own_receipt(uow: UnitOfWork, policy: Policy, member_id: uuid.UUID, receipt_id: uuid.UUID,
                *, issuer: str, signing_key: Key) -> SignedReceipt | None:
    """The signed receipt of one of the member's own consent records; ``None`` for an
    unknown record and for someone else's alike."""
    record = ledger.find_record(uow.session, receipt_id)
    if record is None or record.member_id != member_id:
        return None
    document = receipts.receipt(record, policy, issuer=issuer)
    return SignedReceipt(record, document, receipts.sign(document, signing_key))


def processing_state(uow: UnitOfWork, member_id: uuid.UUID) -> ProcessingState:
    session = uow.session
    return ProcessingState(restricted=members.restriction_of(session, member_id),
                           objected_purposes=sorted(ledger.objections(session, member_id)))


def _refuse_gpc_conflict(policy: Policy, purpose: str, granted: bool,
                         evidence: Evidence) -> None:
    known = policy.purposes.get(purpose)
    if granted and evidence.gpc and known is not None and known.sale_or_sharing:
        raise ConsentError("GPC_CONFLICT",
                           "this request carries Sec-GPC: 1, an opt-out of sale and sharing",
                           field="purpose")
