"""Consent and processing: the member's privacy centre, officers' proof of consent, and
clients' purpose-bound reads of member data (logged before answering)."""
