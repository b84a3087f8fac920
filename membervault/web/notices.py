"""The one-line notices a page shows after a change (kept in the session across the
redirect as a key, translated when shown)."""

from __future__ import annotations

from dataclasses import dataclass

from membervault.web.languages import N_


@dataclass(frozen=True)
class Notice:
    text: str
    problem: bool = False


NOTICES = {
    "signed_out": Notice(N_("You are signed out.")),
    "sign_in_first": Notice(N_("Please sign in to continue.")),
    "profile_saved": Notice(N_("Your changes are saved.")),
    "consent_granted": Notice(N_("Thank you: your consent is recorded.")),
    "consent_withdrawn": Notice(N_("Your consent is withdrawn.")),
    "objected": Notice(N_("Your objection is recorded: we stop this use of your data.")),
    "objection_withdrawn": Notice(N_("Your objection is withdrawn.")),
    "request_opened": Notice(N_("Your request is open. You can follow it on this page.")),
    "restriction_lifted": Notice(N_("The restriction is lifted.")),
    "gpc_conflict": Notice(N_("Your browser sends a Global Privacy Control signal, which "
                              "says no to sharing your data. We follow it, so this stays "
                              "off."), problem=True),
    "notice_outdated": Notice(N_("The notice changed while you were reading it. Please "
                                 "read it again."), problem=True),
    "duplicate_request": Notice(N_("You already have an open request of this kind."),
                                problem=True),
    "too_soon": Notice(N_("You can ask for one copy of your data a day: download the last "
                          "one."), problem=True),
    "confirm_erasure": Notice(N_("Tick the box to confirm that you want your data erased."),
                              problem=True),
    "not_possible": Notice(N_("That was not possible. Please try again."), problem=True),
}
