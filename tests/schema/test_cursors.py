"""Pagination cursors: sealed, bound to who asked, and spelt one way only."""

from __future__ import annotations

import os

import pytest

from schema.cursors import Cursors, InvalidCursor

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_a_cursor_opens_only_for_whom_it_was_made() -> None:
    cursors = Cursors(os.urandom(32))
    cursor = cursors.encode(b"position", bound_to="client:a")
    assert cursors.decode(cursor, bound_to="client:a") == b"position"
    with pytest.raises(InvalidCursor):
        cursors.decode(cursor, bound_to="client:b")


@pytest.mark.parametrize("size", [8, 12, 16])
def test_every_other_spelling_of_the_last_character_is_refused(size: int) -> None:
    """base64 ignores a last character's spare bits; those spellings must not open."""
    cursors = Cursors(os.urandom(32))
    cursor = cursors.encode(bytes(size), bound_to="x")
    for other in ALPHABET.replace(cursor[-1], ""):
        with pytest.raises(InvalidCursor):
            cursors.decode(cursor[:-1] + other, bound_to="x")
