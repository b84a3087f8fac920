"""Consent histories page like every list that grows (schema/paging.py): ``first`` items
after a sealed cursor bound to the field, the caller and the member."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.consent.support import change

PAGE = """query($first: Int!, $after: String) { myConsentHistory(first: $first, after: $after) {
  items { receiptId } nextCursor } }"""
OFFICER_PAGE = """query($m: ID!, $first: Int!, $after: String) {
  consentHistory(memberId: $m, first: $first, after: $after) { items { receiptId } nextCursor } }"""


def _walk(api: Api, query: str, first: int, **variables: Any) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = api.graphql(query, {"first": first, "after": after, **variables})["data"]
        answer = next(iter(page.values()))
        seen += [r["receiptId"] for r in answer["items"]]
        after = answer["nextCursor"]
        if after is None:
            return seen


def test_pages_of_two_walk_the_whole_history_once_each(
        member: tuple[Api, dict[str, Any]], officer_api: Api) -> None:
    api, profile = member
    steps = [("marketing.email", True), ("personalization.offers", True),
             ("marketing.email", False), ("marketing.email", True),
             ("personalization.offers", False)]
    receipts = [change(api, p, g)["receiptIds"][0] for p, g in steps]
    assert _walk(api, PAGE, 2) == receipts
    assert _walk(api, PAGE, 5) == receipts
    assert _walk(officer_api, OFFICER_PAGE, 3, m=profile["id"]) == receipts


def test_a_cursor_opens_only_for_the_caller_and_field_it_was_made_for(
        member: tuple[Api, dict[str, Any]], officer_api: Api) -> None:
    api, profile = member
    for purpose in ("marketing.email", "personalization.offers"):
        change(api, purpose, True)
    cursor = api.graphql(PAGE, {"first": 1})["data"]["myConsentHistory"]["nextCursor"]
    refused = officer_api.graphql(OFFICER_PAGE, {"m": profile["id"], "first": 1,
                                                 "after": cursor})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def test_a_page_size_out_of_range_is_refused(member: tuple[Api, dict[str, Any]]) -> None:
    api, _ = member
    for first in (0, 201):
        answer = api.graphql(PAGE, {"first": first})
        assert answer["errors"][0]["extensions"]["code"] == "INVALID_PAGE_SIZE"
