"""The "same answer first" comparison: values, item by item, not counts."""

from __future__ import annotations

import pytest

from bench.measure import CheckFailed, percentile, same_values

ADA = {"givenName": "Ada", "email": "ada@example.com"}


def test_the_same_values_in_the_same_order_pass() -> None:
    assert same_values("B1", [ADA, {**ADA, "givenName": "Bo"}],
                       [ADA, {**ADA, "givenName": "Bo"}]) == 2


@pytest.mark.parametrize("got, message", [
    ([ADA, {**ADA, "email": None}], "item 1 differs"),  # as many items, one value wrong
    ([{**ADA, "givenName": "Bo"}, ADA], "item 0 differs"),  # the same members, reordered
    ([ADA], "1 items, expected 2"),
])
def test_a_wrong_value_order_or_count_fails(got: list[dict[str, str | None]],
                                            message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        same_values("B1", got, [ADA, {**ADA, "givenName": "Bo"}])


def test_percentile_is_taken_from_the_samples() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
