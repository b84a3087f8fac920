"""Consent receipts: one per consent record (a grant or a withdrawal), with the fields of
the Kantara Initiative Consent Receipt Specification v1.1 at the top level and the
ISO/IEC TS 27560:2023 consent record fields under ``iso27560``, signed as a compact JWS
with the service's token signing key, so anyone can verify a receipt with the keys
published at ``/.well-known/jwks.json``.

Which specification field each receipt field is: docs/api.md#consent-receipts. What a
receipt says about purposes and data categories comes from the policy file (titles,
notices, the Kantara vocabularies it maps them to, retention rules); who receives the
data, from the clients registered for the purpose.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import Key
from sqlalchemy.orm import Session

from consent import ledger
from consent.models import ConsentRecord
from consent.notices import CONTACT, address_json
from identity.clients import registered_for
from identity.signed_documents import sign_document
from vaultkernel.policy import Policy, Purpose
from vaultkernel.receipt_vocabularies import (
    PII_CATEGORIES,
    PURPOSE_CATEGORIES,
    SENSITIVE_PII_CATEGORIES,
    numbered,
)

RECEIPT_VERSION = "KI-CR-v1.1.0"
SCHEMA_VERSION = "ISO/IEC TS 27560:2023"
TYP = "consent-receipt+jws"
COLLECTION_METHODS = {"web": "web form", "app": "mobile app", "store": "in store, by staff",
                      "api": "partner system", "import": "import from a prior system"}
# Kantara consentType: a grant is an explicit, affirmative act naming the notice version;
# a withdrawal is no authority to process at all.
CONSENT_TYPE = {True: "EXPLICIT", False: "WITHDRAWN"}
LAWFUL_BASES = {
    "consent": "consent (GDPR Art. 6(1)(a))",
    "contract": "performance of a contract (GDPR Art. 6(1)(b))",
    "legal_obligation": "legal obligation (GDPR Art. 6(1)(c))",
    "legitimate_interest": "legitimate interests (GDPR Art. 6(1)(f))",
}
TERMINATION = "until withdrawn by the member, in one call like the grant"
WITHDRAWAL_METHOD = ("withdrawConsent in the member's privacy centre (one call, like the "
                     "grant), or at a store counter or in the app")
CONTROLLER_PARTY = "controller"


@dataclass(frozen=True)
class Recipient:
    """A client registered to receive a purpose's data."""

    client_id: str
    name: str
    kind: str


def recipients_of(session: Session, purposes: Iterable[str]) -> dict[str, list[Recipient]]:
    return {purpose: [Recipient(c.client_id, c.name, c.kind) for c in clients]
            for purpose, clients in registered_for(session, purposes).items()}


def ended_grants(history: Sequence[ConsentRecord]) -> dict[int, uuid.UUID]:
    """For each withdrawal in a member's history (oldest first), the receipt id of the
    grant it ended; a withdrawal of a purpose that was not granted ends none."""
    last: dict[str, ConsentRecord] = {}
    ended: dict[int, uuid.UUID] = {}
    for record in history:
        previous = last.get(record.purpose)
        if not record.granted and previous is not None and previous.granted:
            ended[record.id] = previous.receipt_id
        last[record.purpose] = record
    return ended


def receipt(record: ConsentRecord, policy: Policy, *, issuer: str,
            recipients: Sequence[Recipient] = (),
            withdraws: uuid.UUID | None = None) -> dict[str, Any]:
    """The receipt of one record. ``recipients``: the clients registered for its purpose;
    ``withdraws``: for a withdrawal, the receipt id of the grant it ended."""
    purpose = policy.purposes.get(record.purpose)
    language = receipt_language(record, policy)
    text = policy.purpose_text(purpose.key, language) if purpose else None
    categories = [policy.categories[c] for c in purpose.categories] if purpose else []
    pii = list(dict.fromkeys(p for c in categories for p in c.pii_categories))
    sensitive = [p for p in pii if p in SENSITIVE_PII_CATEGORIES]
    disclosed = bool(purpose and purpose.sale_or_sharing)
    policy_url = f"{issuer}/policy"
    kantara_purpose: dict[str, Any] = {
        "purpose": text.notice if text else record.purpose,
        "purposeCategory": [numbered(c, PURPOSE_CATEGORIES)
                            for c in (purpose.purpose_categories if purpose else ())],
        "consentType": CONSENT_TYPE[record.granted],
        "piiCategory": [numbered(c, PII_CATEGORIES) for c in pii],
        "primaryPurpose": bool(purpose and purpose.membership),
        "termination": TERMINATION,
        "thirdPartyDisclosure": disclosed,
    }
    if disclosed:
        names = [r.name for r in recipients] or [
            c.name for c in policy.clients.values() if record.purpose in c.purposes]
        kantara_purpose["thirdPartyName"] = "; ".join(names) or "the recipients in the notice"
    return {
        # Kantara Consent Receipt v1.1
        "version": RECEIPT_VERSION,
        "jurisdiction": policy.jurisdiction,
        "consentTimestamp": int(record.at.timestamp()),
        "collectionMethod": COLLECTION_METHODS.get(record.channel, record.channel),
        "consentReceiptID": str(record.receipt_id),
        "publicKey": f"{issuer}/.well-known/jwks.json",
        "language": language,
        # The internal member id: a pseudonymous principal, never a personal value.
        "piiPrincipalId": str(record.member_id),
        "piiControllers": [{
            "piiController": policy.controller, "onBehalf": False, "contact": CONTACT,
            "address": address_json(policy.controller_address),
            "email": policy.dpo_contact, "phone": policy.controller_phone}],
        "policyUrl": policy_url,
        "services": [{"service": policy.service or policy.controller,
                      "purposes": [kantara_purpose]}],
        "sensitive": bool(sensitive),
        "spiCat": [numbered(c, PII_CATEGORIES) for c in sensitive],
        # membervault's own fields
        "purposeKey": record.purpose,
        "event": "given" if record.granted else "withdrawn",
        "noticeVersion": record.notice_version,
        "policyVersion": policy.version,
        "actor": record.actor,
        "gpc": _gpc(record),
        # ISO/IEC TS 27560:2023
        "iso27560": _consent_record(record, policy, purpose, recipients=recipients,
                                    withdraws=withdraws, policy_url=policy_url),
    }


def receipt_language(record: ConsentRecord, policy: Policy) -> str:
    """The language the member read the notice in: the record's, or (records older than
    the column, and languages the policy no longer gives) the policy's own."""
    return policy.notice_language(record.language)


def _gpc(record: ConsentRecord) -> bool:
    return bool((record.evidence or {}).get("gpc"))


def _consent_record(record: ConsentRecord, policy: Policy, purpose: Purpose | None, *,
                    recipients: Sequence[Recipient], withdraws: uuid.UUID | None,
                    policy_url: str) -> dict[str, Any]:
    keys = list(purpose.categories) if purpose else []
    disclosed = bool(purpose and purpose.sale_or_sharing)
    language = receipt_language(record, policy)
    controller = {
        "party_id": CONTROLLER_PARTY, "party_name": policy.controller,
        "party_role": "data controller", "party_type": "legal entity",
        "party_address": (policy.controller_address.one_line()
                          if policy.controller_address else ""),
        "party_contact": CONTACT, "party_email": policy.dpo_contact,
        "party_phone": policy.controller_phone}
    # membervault holds no address of a client: a recipient is reached through the
    # controller, who registered it.
    care_of = f"c/o {policy.controller}, {controller['party_address']}"
    receivers = [{
        "party_id": f"client:{r.client_id}", "party_name": r.name,
        "party_role": "third party" if disclosed else "recipient",
        "party_type": r.kind, "party_address": care_of,
        "party_contact": policy.dpo_contact} for r in recipients]
    rules = [r for r in policy.retention.values()
             if r.applies_to in (*keys, "member", "consent_record")]
    if record.granted:
        event_type = "explicitly expressed consent"
    elif _gpc(record):
        event_type = "opt-out preference signal (Global Privacy Control)"
    else:
        event_type = "explicitly expressed withdrawal"
    return {
        "schema_version": SCHEMA_VERSION,
        "record_id": str(record.receipt_id),
        "receipt_id": str(record.receipt_id),
        "pii_principal_id": str(record.member_id),
        "processing": {
            "privacy_notice": {"url": _notice_url(policy_url, policy, language, record.purpose),
                               "notice_version": record.notice_version,
                               "notice_hash": record.notice_hash,
                               "hash_algorithm": "SHA-256"},
            "language": language,
            "purposes": [{
                "purpose_id": record.purpose,
                "purpose": (policy.purpose_text(purpose.key, language).title if purpose
                            else record.purpose),
                "purpose_type": [numbered(c, PURPOSE_CATEGORIES)
                                 for c in (purpose.purpose_categories if purpose else ())]}],
            "lawful_basis": LAWFUL_BASES.get(purpose.legal_basis if purpose else "", ""),
            "pii_information": [{
                "pii_type": key, "pii_type_title": policy.category_title(key, language),
                "pii_category": [numbered(c, PII_CATEGORIES)
                                 for c in policy.categories[key].pii_categories],
                "sensitive_pii_category": [numbered(c, PII_CATEGORIES)
                                           for c in policy.categories[key].pii_categories
                                           if c in SENSITIVE_PII_CATEGORIES]}
                for key in keys],
            "pii_controllers": [CONTROLLER_PARTY],
            "collection_method": COLLECTION_METHODS.get(record.channel, record.channel),
            "storage_locations": list(policy.storage_locations),
            "retention_period": [{"rule": r.name, "applies_to": r.applies_to,
                                  "after": str(r.after), "anchor": r.anchor,
                                  "action": r.action, "description": r.describe()}
                                 for r in rules],
            "jurisdiction": policy.jurisdiction,
            "recipient_third_parties": [p["party_id"] for p in receivers],
            "withdrawal_method": WITHDRAWAL_METHOD,
        },
        "parties": [controller, *receivers],
        "event": {
            "event_time": _iso(record.at),
            "validity_duration": ("until withdrawn" if record.granted
                                  else "not applicable: a withdrawal"),
            "entity_id": record.actor,
            "event_type": event_type,
            "event_state": "given" if record.granted else "withdrawn",
            "withdraws_receipt_id": str(withdraws) if withdraws else None,
        },
    }


def _notice_url(policy_url: str, policy: Policy, language: str, purpose: str) -> str:
    """Where the notice the member read is published (``/policy?lang=`` for a
    translation, whose hash ``/policy.json?lang=`` publishes)."""
    query = "" if language == policy.language else f"?lang={language}"
    return f"{policy_url}{query}#{purpose}"


def _iso(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. 2026-11-23T12:07:26.447409Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def receipts_of(session: Session, records: Sequence[ConsentRecord], policy: Policy, *,
                issuer: str) -> dict[int, dict[str, Any]]:
    """The receipt of each record, by record id, with its purpose's registered recipients
    and, for a withdrawal, the grant it ended (read once for all the records)."""
    recipients = recipients_of(session, {r.purpose for r in records})
    ended: dict[int, uuid.UUID] = {}
    for member_id in {r.member_id for r in records}:
        ended.update(ended_grants(ledger.history(session, member_id)))
    return {r.id: receipt(r, policy, issuer=issuer, recipients=recipients[r.purpose],
                          withdraws=ended.get(r.id)) for r in records}


def receipt_for(session: Session, record: ConsentRecord, policy: Policy, *,
                issuer: str) -> dict[str, Any]:
    """The receipt of one record (see :func:`receipts_of`)."""
    return receipts_of(session, [record], policy, issuer=issuer)[record.id]


def sign(document: Mapping[str, Any], key: Key) -> str:
    return sign_document(dict(document), key, TYP)
