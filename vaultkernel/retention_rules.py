"""Retention rules from the policy file: what, how long after which event, and what then.

Each rule names a kind the sweeper knows (``applies_to`` + ``anchor`` + ``action``); an
unknown combination is a policy error at start-up, never a silent no-op.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from vaultkernel.clock import add_months

DURATION = re.compile(r"^\s*(\d+)\s*(hour|hours|day|days|month|months|year|years)\s*$")

CATEGORY = "<category>"
CONSENT_WITHDRAWN = "consent_withdrawn"

# (applies_to, anchor, action) -> what members see in their retention schedule
KINDS: dict[tuple[str, str, str], str] = {
    ("member", "last_activity", "erase"):
        "Your membership and all your personal data are erased {after} after your last "
        "activity (you are told {notice_days} days before).",
    # applies_to: a data category; anchor: consent_withdrawn:<a consent purpose covering it>
    (CATEGORY, CONSENT_WITHDRAWN, "delete"):
        "Your {category} is deleted {after} after you withdraw consent to {purpose}.",
    ("consent_record", "member_erased", "delete"):
        "Records of your consents are kept {after} after your erasure, as proof, then "
        "deleted.",
    ("access_log", "recorded", "delete"):
        "The record of who read your data is kept {after}.",
    ("data_subject_request", "closed", "delete"):
        "Your privacy requests are kept {after} after they are closed.",
    ("export_archive", "created", "delete"):
        "Your data export can be downloaded for {after}, then it is deleted.",
    ("outbox_event", "delivered", "delete"):
        "Notifications about changes to your data are kept {after} after delivery.",
    ("sign_in_code", "created", "delete"):
        "Sign-in codes are deleted {after} after they are sent.",
}


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # hours | days | months | years

    def before(self, moment: dt.datetime) -> dt.datetime:
        """The moment this long before ``moment`` (calendar months and years)."""
        if self.unit == "hours":
            return moment - dt.timedelta(hours=self.amount)
        if self.unit == "days":
            return moment - dt.timedelta(days=self.amount)
        months = self.amount * (12 if self.unit == "years" else 1)
        return add_months(moment, -months)

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit.rstrip("s")
        return f"{self.amount} {unit}"


@dataclass(frozen=True)
class RetentionRule:
    name: str
    applies_to: str
    anchor: str
    after: Duration
    action: str
    notice_days: int = 0
    # Filled in by the policy, which knows the titles a member reads.
    category_title: str = ""
    purpose_title: str = ""

    @property
    def kind(self) -> tuple[str, str, str]:
        return kind_of(self.applies_to, self.anchor, self.action)

    @property
    def withdrawn_purpose(self) -> str | None:
        """For a ``consent_withdrawn:<purpose>`` anchor, the purpose."""
        head, _, purpose = self.anchor.partition(":")
        return purpose if head == CONSENT_WITHDRAWN and purpose else None

    def describe(self) -> str:
        return KINDS[self.kind].format(after=self.after, notice_days=self.notice_days,
                                       category=_lower_first(self.category_title),
                                       purpose=_lower_first(self.purpose_title))


def kind_of(applies_to: str, anchor: str, action: str) -> tuple[str, str, str]:
    if anchor.partition(":")[0] == CONSENT_WITHDRAWN:
        return (CATEGORY, CONSENT_WITHDRAWN, action)
    return (applies_to, anchor, action)


def _lower_first(title: str) -> str:
    return title[:1].lower() + title[1:]


class RuleError(ValueError):
    pass


def parse_duration(text: Any) -> Duration:
    match = DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise RuleError("'after' must look like '30 days', '36 months', '1 hour' or '6 years'")
    unit = match.group(2) if match.group(2).endswith("s") else match.group(2) + "s"
    amount = int(match.group(1))
    if amount < 1:
        raise RuleError("'after' must be at least 1")
    return Duration(amount, unit)


def parse_rule(name: str, table: dict[str, Any]) -> RetentionRule:
    extra = sorted(set(table) - {"applies_to", "anchor", "after", "action", "notice_days"})
    if extra:
        raise RuleError(f"unknown keys {', '.join(extra)}")
    missing = [k for k in ("applies_to", "anchor", "after", "action") if k not in table]
    if missing:
        raise RuleError(f"missing {', '.join(repr(m) for m in missing)}")
    given = (table["applies_to"], table["anchor"], table["action"])
    if not all(isinstance(part, str) for part in given) or kind_of(*given) not in KINDS:
        known = "; ".join(" / ".join(k) for k in KINDS).replace(
            CONSENT_WITHDRAWN, CONSENT_WITHDRAWN + ":<purpose>")
        raise RuleError(f"the sweeper does not know {' / '.join(map(str, given))} "
                        f"(known: {known})")
    notice = table.get("notice_days", 0)
    if not isinstance(notice, int) or isinstance(notice, bool) or notice < 0:
        raise RuleError("'notice_days' must be a whole number of days")
    return RetentionRule(name, given[0], given[1], parse_duration(table["after"]), given[2],
                         notice)
