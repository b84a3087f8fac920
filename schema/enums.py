"""Enum-like values as GraphQL enums: one casing (UPPER_SNAKE) on the wire, in answers and
arguments alike; the Python value is the domain's own spelling."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Where a data subject request stands (docs/requests.md).")
class RequestState(Enum):
    RECEIVED = "received"
    IDENTITY_VERIFICATION = "identity_verification"
    IN_PROGRESS = "in_progress"
    EXTENDED = "extended"
    WAITING_FOR_RECIPIENTS = "waiting_for_recipients"
    COMPLETED = "completed"
    DENIED = "denied"


@strawberry.enum(description="Where one webhook delivery stands (docs/webhooks.md).")
class DeliveryState(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@strawberry.enum(description="The legal basis of a purpose (GDPR Art. 6(1)).")
class LegalBasis(Enum):
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGITIMATE_INTEREST = "legitimate_interest"
    LEGAL_OBLIGATION = "legal_obligation"


@strawberry.enum(description="How a consent was collected.")
class ConsentChannel(Enum):
    WEB = "web"
    APP = "app"
    STORE = "store"
    API = "api"
    IMPORT = "import"


@strawberry.enum(description="What a retention rule does when its time has come.")
class RetentionAction(Enum):
    ERASE = "erase"
    DELETE = "delete"
