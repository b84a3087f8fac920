"""The notice hash ties a consent record to the notice text it was made under: the
authoritative (policy-language) text, so translations never change it, edits do."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from consent.notices import notice, notice_hash
from membervault.services import load_member_policy
from vaultkernel.notices import PurposeText
from vaultkernel.policy import Policy


def with_purpose(policy: Policy, key: str, **changes: object) -> Policy:
    return dataclasses.replace(policy, purposes={
        **policy.purposes, key: dataclasses.replace(policy.purposes[key], **changes)})


def test_the_hash_is_sha256_of_the_canonical_notice() -> None:
    policy = load_member_policy()
    purpose = policy.purposes["marketing.email"]
    canonical = json.dumps({"controller": policy.controller, "language": "en",
                            "notice": purpose.notice, "noticeVersion": 1,
                            "purpose": "marketing.email", "title": purpose.title},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert notice_hash(policy, purpose) == hashlib.sha256(canonical.encode()).hexdigest()


def test_edits_change_the_hash_and_translations_do_not() -> None:
    policy = load_member_policy()
    key = "marketing.email"
    original = notice_hash(policy, policy.purposes[key])
    for change in ({"notice": "We send you offers."}, {"title": "Emails"},
                   {"notice_version": 2}):
        edited = with_purpose(policy, key, **change)
        assert notice_hash(edited, edited.purposes[key]) != original
    french = policy.translations["fr"]
    retranslated = dataclasses.replace(policy, translations={"fr": dataclasses.replace(
        french, purposes={**french.purposes, key: PurposeText("Courriels", "Autre texte.")})})
    assert notice_hash(retranslated, retranslated.purposes[key]) == original
    assert notice(retranslated, "fr")["purposes"][2]["noticeHash"] == original
    assert notice(retranslated, "fr")["purposes"][2]["title"] == "Courriels"
