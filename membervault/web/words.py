"""The privacy centre's words for the service's codes: member attributes, legal bases,
consent states, request types and states, denial reasons, readers. Marked for the
catalogue here, translated when a page is rendered."""

from __future__ import annotations

import uuid

from membervault.web.languages import N_
from vaultkernel.policy import Policy

ATTRIBUTES = {
    "member_number": N_("Member number"),
    "given_name": N_("Given name"),
    "family_name": N_("Family name"),
    "email": N_("Email address"),
    "phone": N_("Phone number"),
    "birthdate": N_("Date of birth"),
    "postal_address": N_("Postal address"),
    "preferred_language": N_("Preferred language"),
    "preferences": N_("Preferences"),
    "export_archive": N_("A copy of all your data (your download)"),
}

# What a data protection officer reads in the console (``audit.access_log.COMPLIANCE``).
RECORDS = {
    "consent_history": N_("Your consent history: each yes and no, and when"),
    "consent_receipt": N_("A receipt for one of your consent decisions"),
    "legal_holds": N_("Whether the law requires us to keep some of your data"),
}

LEGAL_BASES = {
    "consent": N_("Your consent: we do this only if you say yes, and you can say no at any "
                  "time."),
    "contract": N_("Needed for your membership: we cannot run it without this."),
    "legitimate_interest": N_("Our legitimate interest: we do this unless you object."),
    "legal_obligation": N_("The law requires it."),
}

CONSENT_STATES = {
    "granted": N_("You said yes."),
    "withdrawn": N_("You said no."),
    "not_given": N_("You have not said yes."),
    "stale": N_("The notice has changed since you said yes: please decide again."),
    "not_consent_based": N_("This does not depend on your consent."),
}

REQUEST_TYPES = {
    "access": N_("A copy of your data"),
    "erasure": N_("Erase your data"),
    "rectification": N_("Correct your data"),
    "restriction": N_("Restrict the use of your data"),
    "objection": N_("Object to a use of your data"),
}

REQUEST_STATES = {
    "received": N_("Received"),
    "identity_verification": N_("Checking it is you"),
    "in_progress": N_("In progress"),
    "extended": N_("In progress, with more time"),
    "waiting_for_recipients": N_("Waiting for our partners to confirm"),
    "completed": N_("Done"),
    "denied": N_("Refused"),
    "held": N_("On hold: the law requires us to keep some of your data"),
}

DENIALS = {
    "CONSENT_REQUIRED": N_("you had not said yes"),
    "CONSENT_STALE": N_("the notice changed since you said yes"),
    "CATEGORY_NOT_IN_PURPOSE": N_("not needed for this purpose"),
    "PROCESSING_RESTRICTED": N_("you restricted the use of your data"),
    "OBJECTED": N_("you objected"),
    "MEMBER_ERASED": N_("your data is erased"),
    "PURPOSE_NOT_PERMITTED": N_("not allowed for this purpose"),
}

PURPOSES_OUTSIDE_POLICY = {
    "self_service": N_("You looked at your own data"),
    "administration": N_("Administration, with a recorded reason"),
    "subject_access": N_("Your request for a copy of your data"),
    "compliance": N_("Checking that we keep the data protection rules"),
}

READERS = {
    "you": N_("You"),
    "admin": N_("An administrator"),
    "officer": N_("A data protection officer"),
    "system": N_("The service itself"),
}

FIELD_PROBLEMS = {
    "REQUIRED": N_("Fill this in."),
    "INVALID_EMAIL": N_("Enter an email address such as name@example.com."),
    "INVALID_PHONE": N_("Enter a phone number, with the country code (such as +46)."),
    "INVALID_DATE": N_("Enter the date as year-month-day, such as 1990-02-03."),
    "TOO_YOUNG": N_("Members must be old enough to join the programme."),
    "INVALID_LANGUAGE": N_("Enter a language code such as sv, nb, bg or en."),
    "INVALID_ADDRESS": N_("Give a street line, the town and the two-letter country code."),
    "DUPLICATE_EMAIL": N_("Another member uses this email address."),
    "DUPLICATE_PHONE": N_("Another member uses this phone number."),
    "TOO_LONG": N_("This is too long."),
}
CHECK_THIS = N_("Check this value.")


def reader(principal: str, member_id: uuid.UUID, policy: Policy) -> str:
    """Who read, in the member's words (untranslated): a client by its registered name."""
    role, _, subject = principal.partition(":")
    if role == "member":
        return READERS["you"] if subject == str(member_id) else principal
    if role == "client":
        client = policy.clients.get(subject)
        return client.name if client is not None else subject
    return READERS.get(role, principal)


def purpose_title(key: str, policy: Policy, language: str) -> str:
    """A purpose's title in ``language`` (the policy's words); a purpose outside the
    policy in the catalogue's words (translated when rendered)."""
    if key in policy.purposes:
        return policy.purpose_text(key, language).title
    return PURPOSES_OUTSIDE_POLICY.get(key, key)
