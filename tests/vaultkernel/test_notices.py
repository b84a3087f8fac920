"""The controller's address and phone, and the notice's languages, as the policy file
gives them (vaultkernel.notices): checked, or refused with the entry named."""

from __future__ import annotations

import pytest

from vaultkernel.notices import (
    NoticeError,
    PostalAddress,
    language_tag,
    phone_number,
    postal_address,
)


def test_an_address_reads_as_one_line() -> None:
    address = postal_address({"street": "1 Main St", "locality": "Springfield",
                              "postal_code": "12345", "region": "IL", "country": "US"})
    assert address == PostalAddress("1 Main St", "Springfield", "US", "12345", "IL")
    assert address.one_line() == "1 Main St, 12345 Springfield, IL, US"
    assert PostalAddress("Quay 2", "Dublin", "IE").one_line() == "Quay 2, Dublin, IE"


@pytest.mark.parametrize("number", ["+32 2 555 01 00", "+1 (415) 555-0100", "+44.20.7946.0000",
                                    "+353215550100"])
def test_international_numbers_are_kept_as_written(number: str) -> None:
    assert phone_number(number) == number


@pytest.mark.parametrize("number", ["02 555 01 00", "+0 2 555", "+32 2 555 01 00 ext. 4",
                                    "+3225550100000000", "", 3225550100])
def test_other_numbers_are_refused(number: object) -> None:
    with pytest.raises(NoticeError) as refused:
        phone_number(number)
    assert refused.value.entry == "[policy]"


@pytest.mark.parametrize(("tag", "ok"), [("en", True), ("fr-BE", True), ("zh-Hant-TW", True),
                                         ("EN", False), ("english", False), ("e", False),
                                         ("fr_BE", False), (None, False)])
def test_language_tags(tag: object, ok: bool) -> None:
    if ok:
        assert language_tag(tag, "language") == tag
    else:
        with pytest.raises(NoticeError):
            language_tag(tag, "language")
