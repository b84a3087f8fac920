"""A client registers a member and is answered what the membership purpose covers.

Rule 1 holds for registration too: the registering client is answered the new member's
values only as the membership purpose permits them, and the answer is in the access log
(under that purpose) before it is returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from audit.access_log import ReaderLog
from consent.decisions import MemberState, decide
from consent.gate import MemberData
from identity import members
from identity.encryption import MemberCrypto
from vaultkernel.database import UnitOfWork
from vaultkernel.policy import Policy


def register_for_membership(uow: UnitOfWork, crypto: MemberCrypto, policy: Policy,
                            data: Mapping[str, Any], requested: Sequence[str], *,
                            default_region: str, log: ReaderLog) -> tuple[str, MemberData]:
    """Register a member; returns their number and the gated answer."""
    membership = policy.membership
    decision = decide(membership, policy.attributes_of(membership.key), MemberState(),
                      requested)
    profile = members.register_member(
        uow, crypto, data, actor=log.principal, default_region=default_region, log=log,
        purpose=membership.key, returned=decision.allowed, denied=decision.denied)
    values = {a: _stored_form(getattr(profile, a)) for a in decision.allowed}
    return profile.member_number, MemberData(profile.id, values, decision)


def _stored_form(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
