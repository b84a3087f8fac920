"""The vocabularies of the Kantara Initiative Consent Receipt Specification v1.1 that the
policy file maps its purposes and data categories to (``purpose_categories``,
``pii_categories``): a receipt's ``purposeCategory`` and ``piiCategory`` are written in
them, numbered as the specification numbers them ("6 - Marketing").

The lists are the specification's, in its order; the policy names entries by their name.
"""

from __future__ import annotations

# Purpose categories (the specification's list of purposes for which PII is collected).
PURPOSE_CATEGORIES: tuple[str, ...] = (
    "Core Function",
    "Contracted Service",
    "Delivery",
    "Contact Requested",
    "Personalized Experience",
    "Marketing",
    "Marketing Third Parties",
    "Sharing for Delivery",
    "Sharing for Marketing",
    "3rd Party Sharing for Core Function",
    "3rd Party Sharing for ...",
    "Legally Required Data Retention",
    "Required by Law Enforcement or Government",
    "Protecting Your Health",
    "Protecting Our Interests",
    "Improve Performance",
)

# PII categories (the specification's categories of personal data).
PII_CATEGORIES: tuple[str, ...] = (
    "Biographical",
    "Contact",
    "Biometric",
    "Communications/Social",
    "Network/Service",
    "Health",
    "Financial",
    "Official/Government Identifiers",
    "Social Services/Welfare",
    "Judicial",
    "Property/Asset",
    "Human Resources",
    "Psychological/Attitudinal",
    "Membership",
    "Behavioural",
    "Profile",
)

# The PII categories that are sensitive (GDPR Art. 9 and 10 data: biometric, health,
# criminal records, beliefs and orientation): a receipt naming one is ``sensitive`` and
# lists it in ``spiCat``.
SENSITIVE_PII_CATEGORIES = frozenset({"Biometric", "Health", "Judicial",
                                      "Psychological/Attitudinal"})


def numbered(name: str, vocabulary: tuple[str, ...]) -> str:
    """An entry as receipts write it: its number in the specification and its name."""
    return f"{vocabulary.index(name) + 1} - {name}"
