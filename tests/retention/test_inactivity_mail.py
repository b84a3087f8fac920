"""The inactivity notice is mailed in each member's preferred language, else English."""

from __future__ import annotations

from retention.sweeper import mail_inactivity_notices
from vaultkernel.retention_rules import parse_rule


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))


RULE = parse_rule("inactive_members", {"applies_to": "member", "anchor": "last_activity",
                                       "after": "36 months", "action": "erase",
                                       "notice_days": 30})


def test_each_notice_is_in_the_members_language() -> None:
    outbox = Outbox()
    sent = mail_inactivity_notices(outbox, [("a@example.org", "nb-NO"),
                                            ("b@example.org", None),
                                            ("c@example.org", "bg"),
                                            ("d@example.org", "de")], RULE)
    assert sent == 4
    subjects = {to: subject for to, subject, _ in outbox.sent}
    assert subjects == {
        "a@example.org": "Medlemskapet ditt avsluttes på grunn av inaktivitet",
        "b@example.org": "Your membership will end for inactivity",
        "c@example.org": "Членството ви ще бъде прекратено поради неактивност",
        "d@example.org": "Your membership will end for inactivity"}
    bodies = {to: body for to, _, body in outbox.sent}
    assert "de neste 30 dagene" in bodies["a@example.org"]
    assert "the next 30 days" in bodies["b@example.org"]
