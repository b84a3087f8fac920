"""Consent receipts: the fields of the Kantara Consent Receipt v1.1 / ISO/IEC TS 27560,
signed as a compact JWS with the service's token signing key, so anyone can verify a
receipt with the keys published at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

from typing import Any

from joserfc.jwk import Key

from consent.models import ConsentRecord
from identity.signed_documents import sign_document
from vaultkernel.policy import Policy

RECEIPT_VERSION = "KI-CR-v1.1.0"
COLLECTION_METHODS = {"web": "web form", "app": "mobile app", "store": "in store, by staff",
                      "api": "partner system", "import": "import from a prior system"}


def receipt(record: ConsentRecord, policy: Policy, *, issuer: str) -> dict[str, Any]:
    purpose = policy.purposes.get(record.purpose)
    categories = list(purpose.categories) if purpose else []
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": policy.jurisdiction,
        "consentTimestamp": int(record.at.timestamp()),
        "collectionMethod": COLLECTION_METHODS.get(record.channel, record.channel),
        "consentReceiptID": str(record.receipt_id),
        "publicKey": f"{issuer}/.well-known/jwks.json",
        "language": "en",
        # The internal member id: a pseudonymous principal, never a personal value.
        "piiPrincipalId": str(record.member_id),
        "piiControllers": [{"piiController": policy.controller, "contact": policy.dpo_contact,
                            "email": policy.dpo_contact}],
        "policyUrl": f"{issuer}/policy#{policy.version}",
        "services": [{
            "service": "membervault",
            "purposes": [{
                "purpose": record.purpose,
                "purposeCategory": [purpose.title] if purpose else [],
                "consentType": "EXPLICIT",
                "piiCategory": categories,
                "primaryPurpose": False,
                "termination": "until withdrawn by the member, in one call like the grant",
                "thirdPartyDisclosure": bool(purpose and purpose.sale_or_sharing),
            }],
        }],
        "sensitive": False,
        "spiCat": [],
        # ISO/IEC TS 27560 record fields beyond Kantara v1.1:
        "event": "given" if record.granted else "withdrawn",
        "noticeVersion": record.notice_version,
        "policyVersion": policy.version,
        "actor": record.actor,
        "gpc": bool((record.evidence or {}).get("gpc")),
    }


def sign(document: dict[str, Any], key: Key) -> str:
    return sign_document(document, key, "consent-receipt+jws")
