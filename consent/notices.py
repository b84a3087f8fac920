"""The privacy notice members consent to: the policy's purposes and categories in one of
its languages (served at ``/policy``), and the hash that ties a consent record to the
notice text it was made under.

The hash is over the text the member was shown, in the language it was shown in: the
policy's own language gives the hash records have always had (so no existing receipt
changes), a translation its own hash. Changing a title or a notice changes the hash of
that language, which is why a changed notice should raise its ``notice_version``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from vaultkernel.notices import PostalAddress
from vaultkernel.policy import Policy, Purpose
from vaultkernel.receipt_vocabularies import PII_CATEGORIES, PURPOSE_CATEGORIES, numbered

# What the controller's contact person is called on receipts and the notice.
CONTACT = "Data protection officer"


def notice_hash(policy: Policy, purpose: Purpose, language: str | None = None) -> str:
    """SHA-256 (hex) of the purpose's notice as shown in ``language`` (the policy's own
    language when ``None`` or not given by the policy): the canonical JSON (sorted keys,
    UTF-8) of controller, purpose, notice version, language, title and notice text."""
    shown = policy.notice_language(language)
    text = policy.purpose_text(purpose.key, shown)
    document = {"controller": policy.controller, "purpose": purpose.key,
                "noticeVersion": purpose.notice_version, "language": shown,
                "title": text.title, "notice": text.notice}
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def address_json(address: PostalAddress | None) -> dict[str, str]:
    """A postal address in the schema.org names the Kantara receipt's example uses."""
    if address is None:
        return {}
    fields = {"streetAddress": address.street, "postalCode": address.postal_code,
              "addressLocality": address.locality, "addressRegion": address.region,
              "addressCountry": address.country}
    return {k: v for k, v in fields.items() if v}


def controller_json(policy: Policy) -> dict[str, Any]:
    return {"name": policy.controller, "address": address_json(policy.controller_address),
            "phone": policy.controller_phone, "contact": CONTACT,
            "email": policy.dpo_contact}


def notice(policy: Policy, language: str) -> dict[str, Any]:
    """The notice in ``language`` (one of ``policy.languages``): the controller, and each
    purpose with its title, notice, legal basis, categories and notice hash."""
    translation = policy.translations.get(language)

    def category(key: str) -> dict[str, Any]:
        title = (translation.categories[key] if translation
                 else policy.categories[key].title)
        return {"category": key, "title": title,
                "piiCategories": [numbered(c, PII_CATEGORIES)
                                  for c in policy.categories[key].pii_categories]}

    purposes = []
    for purpose in policy.purposes.values():
        text = translation.purposes[purpose.key] if translation else None
        purposes.append({
            "purpose": purpose.key,
            "title": text.title if text else purpose.title,
            "notice": text.notice if text else purpose.notice,
            "noticeVersion": purpose.notice_version,
            "noticeHash": notice_hash(policy, purpose, language),
            "legalBasis": purpose.legal_basis,
            "purposeCategories": [numbered(c, PURPOSE_CATEGORIES)
                                  for c in purpose.purpose_categories],
            "saleOrSharing": purpose.sale_or_sharing,
            "categories": [category(c) for c in purpose.categories],
        })
    return {"policyVersion": policy.version, "language": language,
            "languages": policy.languages,
            "title": translation.title if translation else policy.notice_title,
            "controller": controller_json(policy), "purposes": purposes}
