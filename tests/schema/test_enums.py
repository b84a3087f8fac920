"""The GraphQL enums name exactly the values the domain uses, in one casing on the wire."""

from __future__ import annotations

from enum import Enum

import pytest

from consent.ledger import CHANNELS
from outbox.tracking import STATES
from schema.consent.types import ConsentChannel, LegalBasis
from schema.outbox.types import DeliveryState
from schema.retention.types import RetentionAction
from schema.subject_requests.types import RequestState
from subject_requests.lifecycle import ALLOWED
from vaultkernel.policy import LEGAL_BASES
from vaultkernel.retention_rules import KINDS


@pytest.mark.parametrize(("enum", "domain"), [
    (RequestState, set(ALLOWED)),
    (DeliveryState, set(STATES)),
    (LegalBasis, set(LEGAL_BASES)),
    (ConsentChannel, set(CHANNELS)),
    (RetentionAction, {action for _, _, action in KINDS}),
], ids=lambda v: getattr(v, "__name__", ""))
def test_each_enum_covers_the_domain_values(enum: type[Enum], domain: set[str]) -> None:
    assert {member.value for member in enum} == domain
    assert all(member.name == member.value.upper() for member in enum)
