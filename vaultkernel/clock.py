"""Time, injectable: what reads the time takes a :class:`Clock`, so tests and officers'
what-if views move it instead of sleeping."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Protocol


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Calendar months; a day that does not exist becomes the month's last day
    (31 January + 1 month = 28/29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> dt.datetime:
        return utcnow()


class OffsetClock:
    """The wall clock moved by an offset that can be advanced: what a test or an officer's
    what-if view uses instead of sleeping or waiting for a deadline.

    >>> clock = OffsetClock()
    >>> before = clock.now()
    >>> clock.advance(dt.timedelta(days=40)) - before >= dt.timedelta(days=40)
    True
    """

    def __init__(self, offset: dt.timedelta = dt.timedelta(0)):
        self.offset = offset

    def now(self) -> dt.datetime:
        return utcnow() + self.offset

    def advance(self, by: dt.timedelta) -> dt.datetime:
        self.offset += by
        return self.now()


class FixedClock:
    """A clock that stands still until moved (tests, replays).

    >>> clock = FixedClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    >>> clock.advance(dt.timedelta(days=1)).day
    2
    """

    def __init__(self, at: dt.datetime):
        if at.tzinfo is None:
            raise ValueError("a clock keeps UTC time")
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, by: dt.timedelta) -> dt.datetime:
        self.at += by
        return self.at
