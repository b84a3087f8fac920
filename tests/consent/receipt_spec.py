"""The consent receipt field lists, written from the specifications (not from the code), and
a checker a receipt must pass.

- Kantara Initiative Consent Receipt Specification v1.1.0 (2018-02-20): the receipt's
  fields with their requirement levels (MUST / MAY; ``thirdPartyName`` MUST when
  ``thirdPartyDisclosure`` is true, ``spiCat`` MUST when ``sensitive`` is true) and JSON
  types, and its vocabularies of purpose categories and PII categories, written
  "<number> - <name>" as the specification's example receipt writes them.
- ISO/IEC TS 27560:2023, clause 6.3 (record: header, PII processing 6.3.4, PII
  information 6.3.5, parties 6.3.6, events 6.3.7) and 6.4.5 (receipt metadata): each
  field mandatory or optional, as the W3C DPVCG guide "Consent Records and Receipts as per
  ISO/IEC TS 27560:2023" tabulates them. Field names are the TS's snake_case names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MUST, MAY = "MUST", "MAY"

KANTARA_VERSION = "KI-CR-v1.1.0"
KANTARA_RECEIPT: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "version": (MUST, str),
    "jurisdiction": (MUST, str),
    "consentTimestamp": (MUST, int),  # seconds since 1970-01-01T00:00:00Z
    "collectionMethod": (MUST, str),
    "consentReceiptID": (MUST, str),
    "publicKey": (MAY, str),
    "language": (MAY, str),
    "piiPrincipalId": (MUST, str),
    "piiControllers": (MUST, list),
    "policyUrl": (MUST, str),
    "services": (MUST, list),
    "sensitive": (MUST, bool),
    "spiCat": (MAY, list),  # MUST when sensitive
}
KANTARA_PII_CONTROLLER = {
    "piiController": (MUST, str),
    "onBehalf": (MAY, bool),
    "contact": (MUST, str),
    "address": (MUST, (dict, str)),
    "email": (MUST, str),
    "phone": (MUST, str),
    "piiControllerUrl": (MAY, str),
}
KANTARA_SERVICE = {
    "service": (MUST, str),
    "purposes": (MUST, list),
}
KANTARA_PURPOSE = {
    "purpose": (MUST, str),
    "purposeCategory": (MUST, list),
    "consentType": (MUST, str),
    "piiCategory": (MUST, list),
    "primaryPurpose": (MAY, bool),
    "termination": (MUST, str),
    "thirdPartyDisclosure": (MUST, bool),
    "thirdPartyName": (MAY, str),  # MUST when thirdPartyDisclosure
}
KANTARA_PURPOSE_CATEGORIES = (
    "1 - Core Function", "2 - Contracted Service", "3 - Delivery", "4 - Contact Requested",
    "5 - Personalized Experience", "6 - Marketing", "7 - Marketing Third Parties",
    "8 - Sharing for Delivery", "9 - Sharing for Marketing",
    "10 - 3rd Party Sharing for Core Function", "11 - 3rd Party Sharing for ...",
    "12 - Legally Required Data Retention", "13 - Required by Law Enforcement or Government",
    "14 - Protecting Your Health", "15 - Protecting Our Interests", "16 - Improve Performance",
)
KANTARA_PII_CATEGORIES = (
    "1 - Biographical", "2 - Contact", "3 - Biometric", "4 - Communications/Social",
    "5 - Network/Service", "6 - Health", "7 - Financial", "8 - Official/Government Identifiers",
    "9 - Social Services/Welfare", "10 - Judicial", "11 - Property/Asset",
    "12 - Human Resources", "13 - Psychological/Attitudinal", "14 - Membership",
    "15 - Behavioural", "16 - Profile",
)

M, OPT = "mandatory", "optional"
ISO_RECEIPT = {  # 6.4.5 receipt metadata, 6.3.3 record header
    "schema_version": M, "receipt_id": M, "record_id": M, "pii_principal_id": M,
    "processing": M, "parties": M, "event": M,
}
ISO_PROCESSING = {  # 6.3.4
    "privacy_notice": M, "language": M, "purposes": M, "lawful_basis": OPT,
    "pii_information": M, "pii_controllers": M, "collection_method": OPT,
    "processing_method": OPT, "storage_locations": M, "retention_period": M,
    "processing_locations": OPT, "geographic_restrictions": OPT, "service": OPT,
    "jurisdiction": M, "recipient_third_parties": M, "withdrawal_method": M,
    "privacy_rights": OPT, "codes_of_conduct": OPT, "impact_assessment": OPT, "authority_party": OPT,
}
ISO_PURPOSE = {"purpose": M, "purpose_type": OPT}  # 6.3.4.3, 6.3.4.4
ISO_PII = {  # 6.3.5
    "pii_type": M, "pii_attribute_id": OPT, "pii_optional": OPT, "sensitive_pii_category": OPT,
    "special_pii_category": OPT,
}
ISO_PARTY = {  # 6.3.6
    "party_id": M, "party_name": M, "party_role": OPT, "party_address": M, "party_email": OPT,
    "party_url": OPT, "party_phone": OPT, "party_contact": M, "party_type": M,
}
ISO_EVENT = {  # 6.3.7
    "event_time": M, "validity_duration": M, "entity_id": M, "event_type": M,
    "event_state": M,
}


def _kantara_object(found: Mapping[str, Any], fields: Mapping[str, tuple[str, Any]],
                    where: str) -> list[str]:
    problems = []
    for name, (level, kind) in fields.items():
        if name not in found:
            if level == MUST:
                problems.append(f"{where}.{name}: missing")
            continue
        value = found[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"{where}.{name}: {type(value).__name__} is not {kind}")
        elif level == MUST and isinstance(value, (str, list, dict)) and not value:
            problems.append(f"{where}.{name}: empty")
    return problems


def kantara_problems(receipt: Mapping[str, Any]) -> list[str]:
    """What keeps ``receipt`` from being a Kantara Consent Receipt v1.1 (nothing: [])."""
    problems = _kantara_object(receipt, KANTARA_RECEIPT, "receipt")
    if receipt.get("version") != KANTARA_VERSION:
        problems.append(f"receipt.version: not {KANTARA_VERSION}")
    if receipt.get("sensitive") and not receipt.get("spiCat"):
        problems.append("receipt.spiCat: MUST when sensitive")
    for n, controller in enumerate(receipt.get("piiControllers") or []):
        problems += _kantara_object(controller, KANTARA_PII_CONTROLLER, f"piiControllers[{n}]")
    for s, service in enumerate(receipt.get("services") or []):
        problems += _kantara_object(service, KANTARA_SERVICE, f"services[{s}]")
        for p, purpose in enumerate(service.get("purposes") or []):
            where = f"services[{s}].purposes[{p}]"
            problems += _kantara_object(purpose, KANTARA_PURPOSE, where)
            if purpose.get("thirdPartyDisclosure") and not purpose.get("thirdPartyName"):
                problems.append(f"{where}.thirdPartyName: MUST when thirdPartyDisclosure")
            problems += [f"{where}.purposeCategory: {c!r} is not in the vocabulary"
                         for c in purpose.get("purposeCategory") or []
                         if c not in KANTARA_PURPOSE_CATEGORIES]
            problems += [f"{where}.piiCategory: {c!r} is not in the vocabulary"
                         for c in purpose.get("piiCategory") or []
                         if c not in KANTARA_PII_CATEGORIES]
    return problems


def _iso_object(found: Mapping[str, Any], fields: Mapping[str, str], where: str) -> list[str]:
    return [f"{where}.{name}: mandatory, missing or empty" for name, level in fields.items()
            if level == M and (found.get(name) is None or found.get(name) == "")]


def iso_problems(receipt: Mapping[str, Any]) -> list[str]:
    """What keeps ``receipt["iso27560"]`` from carrying every mandatory ISO/IEC TS
    27560:2023 field (nothing: [])."""
    record = receipt.get("iso27560")
    if not isinstance(record, Mapping):
        return ["iso27560: missing"]
    problems = _iso_object(record, ISO_RECEIPT, "iso27560")
    processing = record.get("processing") or {}
    problems += _iso_object(processing, ISO_PROCESSING, "processing")
    for key in ("purposes", "pii_information", "pii_controllers"):
        if not processing.get(key):
            problems.append(f"processing.{key}: at least one")
    for n, purpose in enumerate(processing.get("purposes") or []):
        problems += _iso_object(purpose, ISO_PURPOSE, f"purposes[{n}]")
    for n, pii in enumerate(processing.get("pii_information") or []):
        problems += _iso_object(pii, ISO_PII, f"pii_information[{n}]")
    parties = record.get("parties") or []
    ids = {party.get("party_id") for party in parties}
    for n, party in enumerate(parties):
        problems += _iso_object(party, ISO_PARTY, f"parties[{n}]")
    for reference in [*(processing.get("pii_controllers") or []),
                      *(processing.get("recipient_third_parties") or [])]:
        if reference not in ids:
            problems.append(f"processing: party {reference!r} is not in parties")
    problems += _iso_object(record.get("event") or {}, ISO_EVENT, "event")
    return problems
