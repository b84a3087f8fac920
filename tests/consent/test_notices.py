"""The notice hash ties a consent record to the notice text it was made under, in the
language it was shown in: the policy's own language keeps the hash records always had,
a translation has its own, and an edit of either changes only that language's hash."""

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


def test_edits_change_the_hash_and_other_languages_do_not() -> None:
    policy = load_member_policy()
    key = "marketing.email"
    original = notice_hash(policy, policy.purposes[key])
    assert notice_hash(policy, policy.purposes[key], "en") == original
    for change in ({"notice": "We send you offers."}, {"title": "Emails"},
                   {"notice_version": 2}):
        edited = with_purpose(policy, key, **change)
        assert notice_hash(edited, edited.purposes[key]) != original
    swedish = notice_hash(policy, policy.purposes[key], "sv")
    french = policy.translations["fr"]
    retranslated = dataclasses.replace(policy, translations={**policy.translations,
        "fr": dataclasses.replace(french, purposes={
            **french.purposes, key: PurposeText("Courriels", "Autre texte.")})})
    assert notice_hash(retranslated, retranslated.purposes[key]) == original
    assert notice_hash(retranslated, retranslated.purposes[key], "sv") == swedish
    assert notice(retranslated, "fr")["purposes"][2]["noticeHash"] != notice(
        policy, "fr")["purposes"][2]["noticeHash"]
    assert notice(retranslated, "fr")["purposes"][2]["title"] == "Courriels"


def test_a_translations_hash_is_over_the_text_in_that_language() -> None:
    policy = load_member_policy()
    purpose = policy.purposes["marketing.email"]
    text = policy.translations["bg"].purposes["marketing.email"]
    canonical = json.dumps({"controller": policy.controller, "language": "bg",
                            "notice": text.notice, "noticeVersion": 1,
                            "purpose": "marketing.email", "title": text.title},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert notice_hash(policy, purpose, "bg") == hashlib.sha256(canonical.encode()).hexdigest()
    assert notice(policy, "bg")["purposes"][2]["noticeHash"] == notice_hash(policy, purpose, "bg")
    # A language the policy does not give is shown (and hashed) in the policy's own.
    assert notice_hash(policy, purpose, "de") == notice_hash(policy, purpose)
