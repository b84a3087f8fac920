"""The GraphQL enums name exactly the values the domain uses, in one casing on the wire."""

from __future__ import annotations

from enum import Enum

import pytest

from consent.decisions import REASONS
from consent.ledger import CHANNELS
from outbox.tracking import STATES
from outbox.writer import EVENT_TYPES
from schema.consent.types import ConsentChannel, DeniedReason, LegalBasis
from schema.outbox.types import DeliveryState, EventType
from schema.retention.types import RetentionAction
from schema.subject_requests.types import DenialCode, Jurisdiction, RequestState
from subject_requests.deadlines import JURISDICTIONS
from subject_requests.lifecycle import ALLOWED, DENIAL_CODES
from vaultkernel.policy import LEGAL_BASES
from vaultkernel.retention_rules import KINDS


@pytest.mark.parametrize(("enum", "domain"), [
    (RequestState, set(ALLOWED)),
    (DeliveryState, set(STATES)),
    (LegalBasis, set(LEGAL_BASES)),
    (ConsentChannel, set(CHANNELS)),
    (RetentionAction, {action for _, _, action in KINDS}),
    (Jurisdiction, set(JURISDICTIONS)),
    (DenialCode, set(DENIAL_CODES)),
    (DeniedReason, set(REASONS)),
    (EventType, set(EVENT_TYPES)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_each_enum_covers_the_domain_values(enum: type[Enum], domain: set[str]) -> None:
    assert {member.value for member in enum} == domain
    assert all(member.name == member.value.upper().replace(".", "_") for member in enum)
