"""Legal deadlines of data subject requests (pure functions, no clock of their own).

GDPR Art. 12(3): one month from receipt, extendable once by two further months with the
reasons given to the member. CCPA (Cal. Civ. Code 1798.130(a)(2)): 45 days, extendable
once by 45 days. The clock stops only while the requester's identity is being verified.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vaultkernel.clock import add_months


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    months: int = 0
    days: int = 0
    extension_months: int = 0
    extension_days: int = 0

    def due(self, start: dt.datetime) -> dt.datetime:
        return add_period(start, self.months, self.days)

    def extend(self, due: dt.datetime) -> dt.datetime:
        return add_period(due, self.extension_months, self.extension_days)


JURISDICTIONS = {
    "GDPR": Jurisdiction("GDPR", months=1, extension_months=2),
    "CCPA": Jurisdiction("CCPA", days=45, extension_days=45),
}


def add_period(moment: dt.datetime, months: int, days: int) -> dt.datetime:
    return add_months(moment, months) + dt.timedelta(days=days)
