"""One way to page a list that grows: ``first`` (1..MAX_PAGE) items after the opaque
cursor ``after``, answered as ``items`` and ``nextCursor`` (null on the last page).

The position in a cursor is sealed (schema/cursors.py) and bound to the field, the caller
and the filters, so it reveals nothing and opens nowhere else. Lists that page by offset
(this module) are those whose order is not a single indexed key: a member's own requests,
consent records and legal holds, and the officers' request queue (soonest due first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from schema.cursors import Cursors
from vaultkernel.errors import DomainError

MAX_PAGE = 200
DEFAULT_PAGE = 50

T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """The slice a page asks for: ``offset`` items skipped, ``first`` items wanted."""

    offset: int
    first: int
    bound: str

    def cut(self, items: Sequence[T], cursors: Cursors) -> tuple[list[T], str | None]:
        """The page of ``items`` (fetched from ``offset``, at least one beyond the page
        when there is a next one) and the cursor to the next page."""
        page = list(items[:self.first])
        more = len(items) > self.first
        following = (cursors.encode_int(self.offset + self.first, bound_to=self.bound)
                     if more else None)
        return page, following


def window(cursors: Cursors, *, field: str, caller: str, first: int, after: str | None,
           filters: str = "") -> Window:
    """The window a page's arguments name; INVALID_PAGE_SIZE, INVALID_CURSOR otherwise."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError("INVALID_PAGE_SIZE", f"first must be between 1 and {MAX_PAGE}",
                          field="first")
    bound = f"{field}:{caller}:{filters}"
    offset = cursors.decode_int(after, bound_to=bound) if after else 0
    return Window(offset, first, bound)


def in_memory(cursors: Cursors, items: Sequence[T], *, field: str, caller: str, first: int,
              after: str | None, filters: str = "") -> tuple[list[T], str | None]:
    """A page of a list read whole (one member's, bounded by what that member did)."""
    cut = window(cursors, field=field, caller=caller, first=first, after=after,
                 filters=filters)
    return cut.cut(items[cut.offset:], cursors)
