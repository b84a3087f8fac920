"""Legal deadlines of data subject requests (pure functions, no clock of their own).

GDPR Art. 12(3): one month from receipt, extendable once by two further months, the
requester told of the extension within the first month. CCPA (Cal. Civ. Code
1798.130(a)(2)): 45 days from receipt, extendable once by 45 days, the consumer told within
the first 45 days; the time taken to verify the request does not stop the clock.

How a period is counted (Regulation (EEC, Euratom) No 1182/71, Art. 3, applied to both):

- the day of receipt does not count; a period of months ends on the same date in the last
  month (31 January + 1 month: the last day of February), a period of days on the day that
  many days later (Art. 3(1), 3(2)(c));
- it ends with the expiry of the last hour of that day, 23:59:59.999999 in the
  controller's time zone (Art. 3(2)(b), (c));
- if that day is a Saturday, a Sunday or a public holiday, the period ends with the expiry
  of the last hour of the following working day (Art. 3(4)).

An extension is counted from the start like the first period (receipt + 3 months, not the
first due date + 2 months), so a first period that ended early in a short month does not
shorten it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from vaultkernel.clock import add_months

LAST_MOMENT = dt.time(23, 59, 59, 999999)
SATURDAY = 5


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    months: int = 0
    days: int = 0
    extension_months: int = 0
    extension_days: int = 0
    # Whether the time spent verifying the requester's identity is left out of the period.
    identity_pauses_clock: bool = False


JURISDICTIONS = {
    "GDPR": Jurisdiction("GDPR", months=1, extension_months=2, identity_pauses_clock=True),
    # 1798.130(a)(2): "The time period to provide the required information may be extended
    # once by an additional 45 days" -- counted from receipt, verification included.
    "CCPA": Jurisdiction("CCPA", days=45, extension_days=45, identity_pauses_clock=False),
}


@dataclass(frozen=True)
class Calendar:
    """How the controller counts days: its time zone and its public holidays."""

    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    holidays: frozenset[dt.date] = frozenset()

    def day_of(self, moment: dt.datetime) -> dt.date:
        """The controller's calendar day at ``moment``."""
        return moment.astimezone(self.time_zone).date()

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < SATURDAY and day not in self.holidays

    def working_day_from(self, day: dt.date) -> dt.date:
        """``day`` itself if it is a working day, else the next one (Art. 3(4))."""
        while not self.is_working_day(day):
            day += dt.timedelta(days=1)
        return day

    def end_of(self, day: dt.date) -> dt.datetime:
        """The last moment of ``day`` in the controller's time zone, in UTC."""
        return dt.datetime.combine(day, LAST_MOMENT, tzinfo=self.time_zone).astimezone(dt.UTC)


def last_day(received: dt.date, months: int, days: int) -> dt.date:
    """The day a period of ``months`` and ``days`` from ``received`` ends on, before any
    roll (months first, then days)."""
    start = dt.datetime.combine(received, dt.time())
    return add_months(start, months).date() + dt.timedelta(days=days)


def period_end(start: dt.datetime, months: int, days: int, calendar: Calendar) -> dt.datetime:
    """The moment a period running from ``start`` expires: the end of its last day, rolled
    forward to a working day."""
    day = last_day(calendar.day_of(start), months, days)
    return calendar.end_of(calendar.working_day_from(day))


def due(rules: Jurisdiction, start: dt.datetime, calendar: Calendar) -> dt.datetime:
    """When a request whose clock started at ``start`` must be answered."""
    return period_end(start, rules.months, rules.days, calendar)


def extended_due(rules: Jurisdiction, start: dt.datetime, calendar: Calendar) -> dt.datetime:
    """The due date after the one extension: the first period and the extension together,
    counted from ``start``."""
    return period_end(start, rules.months + rules.extension_months,
                      rules.days + rules.extension_days, calendar)


class Deadlines:
    """The jurisdictions' rules with the controller's calendar for each, from the policy
    file's ``time_zone`` and ``[holidays]``; built once by the composition root."""

    def __init__(self, time_zone: str = "UTC",
                 holidays: Mapping[str, Collection[dt.date]] | None = None):
        zone = ZoneInfo(time_zone)
        given = holidays or {}
        self._calendars = {code: Calendar(zone, frozenset(given.get(code, ())))
                           for code in JURISDICTIONS}

    def rules(self, jurisdiction: str) -> Jurisdiction:
        return JURISDICTIONS[jurisdiction]

    def calendar(self, jurisdiction: str) -> Calendar:
        return self._calendars[jurisdiction]

    def due(self, jurisdiction: str, start: dt.datetime) -> dt.datetime:
        return due(JURISDICTIONS[jurisdiction], start, self._calendars[jurisdiction])

    def extended_due(self, jurisdiction: str, start: dt.datetime) -> dt.datetime:
        return extended_due(JURISDICTIONS[jurisdiction], start, self._calendars[jurisdiction])
