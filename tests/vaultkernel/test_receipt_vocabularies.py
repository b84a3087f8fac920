"""The Kantara Consent Receipt v1.1 vocabularies in the code are the specification's, in
its order (the numbers receipts write come from the order)."""

from __future__ import annotations

import pytest

from tests.consent.receipt_spec import KANTARA_PII_CATEGORIES, KANTARA_PURPOSE_CATEGORIES
from vaultkernel.receipt_vocabularies import (
    PII_CATEGORIES,
    PURPOSE_CATEGORIES,
    SENSITIVE_PII_CATEGORIES,
    numbered,
)


def test_the_lists_are_the_specifications() -> None:
    assert [numbered(c, PURPOSE_CATEGORIES) for c in PURPOSE_CATEGORIES] == list(
        KANTARA_PURPOSE_CATEGORIES)
    assert [numbered(c, PII_CATEGORIES) for c in PII_CATEGORIES] == list(
        KANTARA_PII_CATEGORIES)
    assert set(PII_CATEGORIES) >= SENSITIVE_PII_CATEGORIES


def test_an_entry_is_written_with_its_number() -> None:
    assert numbered("Marketing", PURPOSE_CATEGORIES) == "6 - Marketing"
    assert numbered("Profile", PII_CATEGORIES) == "16 - Profile"
    with pytest.raises(ValueError):
        numbered("Spam", PURPOSE_CATEGORIES)
