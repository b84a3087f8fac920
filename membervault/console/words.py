"""The console's words for the service's codes (request types and states, denial codes,
delivery states, retention actions), marked for the ``console`` catalogue."""

from __future__ import annotations

from membervault.web.languages import N_

REQUEST_TYPES = {
    "access": N_("Access (a copy of the data)"),
    "erasure": N_("Erasure"),
    "rectification": N_("Rectification"),
    "restriction": N_("Restriction of processing"),
    "objection": N_("Objection"),
}

REQUEST_STATES = {
    "received": N_("Received"),
    "identity_verification": N_("Identity to verify (clock stopped)"),
    "in_progress": N_("In progress"),
    "extended": N_("Extended"),
    "waiting_for_recipients": N_("Waiting for recipients"),
    "completed": N_("Completed"),
    "denied": N_("Denied"),
    "held": N_("Held (legal hold)"),
}

VIEWS = {
    "overdue": N_("Overdue"),
    "due_soon": N_("Due within 7 days"),
    "open": N_("Open"),
    "closed": N_("Closed"),
}

DENIAL_CODES = {
    "UNVERIFIABLE_IDENTITY": N_("Identity could not be verified"),
    "MANIFESTLY_UNFOUNDED": N_("Manifestly unfounded"),
    "EXCESSIVE": N_("Excessive"),
    "LEGAL_HOLD": N_("A legal hold applies"),
    "LEGAL_OBLIGATION": N_("A legal obligation applies"),
    "LEGAL_CLAIMS": N_("Needed for legal claims"),
    "DUPLICATE": N_("Duplicate of an open request"),
}

DELIVERY_STATES = {
    "pending": N_("Pending"),
    "delivered": N_("Delivered"),
    "dead": N_("Dead (gave up)"),
}

RETENTION_ACTIONS = {
    "delete": N_("Delete"),
    "anonymise": N_("Anonymise"),
    "erase": N_("Erase the member"),
    "notify": N_("Notify the member"),
}
