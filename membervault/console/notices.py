"""The one-line notices a console page shows after a change (kept in the session across
the redirect as a key, translated when shown)."""

from __future__ import annotations

from membervault.web.languages import N_
from membervault.web.notices import Notice

NOTICES = {
    "signed_out": Notice(N_("You are signed out of the console.")),
    "sign_in_first": Notice(N_("Please sign in as an officer to continue.")),
    "identity_verified": Notice(N_("The identity check is recorded; the deadline runs from now.")),
    "extended": Notice(N_("The deadline is extended; the member is told why.")),
    "denied": Notice(N_("The request is denied with the code given.")),
    "replayed": Notice(N_("The delivery is queued again.")),
    "hold_placed": Notice(N_("The legal hold is placed.")),
    "hold_lifted": Notice(N_("The legal hold is lifted.")),
    "refused": Notice(N_("That was not possible for this request."), problem=True),
    "ALREADY_EXTENDED": Notice(N_("This request was extended already: it can be extended "
                                  "only once."), problem=True),
    "EXTENSION_TOO_LATE": Notice(N_("The first period has ended: an extension must be "
                                    "decided within it."), problem=True),
    "INVALID_TRANSITION": Notice(N_("That is not possible in the request's state."),
                                 problem=True),
    "MEMBER_NOT_FOUND": Notice(N_("There is no member with this id."), problem=True),
    "UNKNOWN_DENIAL_CODE": Notice(N_("Choose one of the denial codes."), problem=True),
    "reason_needed": Notice(N_("Give a reason the member can read."), problem=True),
}
