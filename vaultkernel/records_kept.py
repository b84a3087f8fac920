"""Every kind of record membervault keeps about a member besides the profile, and how long.

The profile's categories have their own retention (the policy's rules for a category and
for the whole member); these are the other records: consent records, the access log,
requests, webhook events, export archives, sign-in codes, legal holds, the audit trail,
and what an erasure leaves (the tombstone, the suppression hash). Each kind that a
retention rule can apply to (``applies_to``) takes its time limit from the policy's rules;
the others are kept without a time limit, and say why. Exports (GDPR Art. 15(1)(d)) and
the record of processing (Art. 30(1)(f)) both read :func:`retention_of`, so they can
never disagree with what the sweeper enforces.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vaultkernel.retention_rules import RetentionRule


@dataclass(frozen=True)
class KeptRecord:
    key: str
    title: str  # for the member
    rule_kind: str | None  # the retention rules' ``applies_to`` for it, if a rule can apply
    without_rule: str  # how long it is kept when the policy has no rule for it, and why


KEPT_RECORDS: tuple[KeptRecord, ...] = (
    KeptRecord("consent_record", "Records of your consents and their evidence",
               "consent_record",
               "Kept without a time limit, as proof of consent (GDPR Art. 7(1))."),
    KeptRecord("access_log", "The log of every read of your data", "access_log",
               "Kept without a time limit, for accountability (GDPR Art. 5(2)); it holds "
               "internal ids and field names, no personal values."),
    KeptRecord("data_subject_request", "Your privacy requests and every step of them",
               "data_subject_request",
               "Kept without a time limit, as proof that each request was answered in time "
               "(GDPR Art. 5(2), 12)."),
    KeptRecord("outbox_event",
               "Notifications about changes to your data sent to other services "
               "(webhook events and their deliveries)", "outbox_event",
               "Kept without a time limit, as the record of who was told (GDPR Art. 19)."),
    KeptRecord("export_archive", "Your data exports", "export_archive",
               "Kept until the download link expires."),
    KeptRecord("sign_in_code", "One-time sign-in codes (as keyed hashes)", "sign_in_code",
               "Kept until they expire."),
    KeptRecord("legal_hold", "Legal holds on your data", None,
               "Kept without a time limit: a hold is never deleted, so the record of what "
               "was kept from erasure and why stays complete (GDPR Art. 5(2), 17(3)(e))."),
    KeptRecord("audit_trail", "The audit trail of changes to your data (field names, never "
               "values)", None,
               "Kept without a time limit, for accountability (GDPR Art. 5(2))."),
    KeptRecord("tombstone", "After an erasure: your internal id, status and the times of "
               "registration and erasure", None,
               "Kept without a time limit, to prove and honour the erasure (GDPR Art. 17)."),
    KeptRecord("suppression_hash", "After an erasure, only if you had opted out of "
               "marketing: a keyed hash of your email address on the marketing suppression "
               "list", None,
               "Kept without a time limit, so that your opt-out stays effective if the "
               "address is ever offered to us again (GDPR Art. 21(3))."),
)


def retention_of(record: KeptRecord, rules: Iterable[RetentionRule]) -> str:
    """How long ``record`` is kept, in words for the member: the ``describe()`` of the
    policy's rules for its kind, or why it has no time limit."""
    texts = [r.describe() for r in rules if record.rule_kind is not None
             and r.applies_to == record.rule_kind]
    return " ".join(texts) if texts else record.without_rule


def kept_indefinitely(record: KeptRecord, rules: Iterable[RetentionRule]) -> bool:
    return record.rule_kind is None or not any(r.applies_to == record.rule_kind for r in rules)
