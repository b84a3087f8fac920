"""Rectification requests (GDPR Art. 16): the member's corrections are applied at once.

Only a member gives corrected values (an officer never writes a member's personal values);
they follow the rules of ``updateMyProfile``, and ``member.rectified`` goes to recipients
(Art. 19) in the caller's transaction. The request keeps the changed field names, never
the values.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from consent import notify
from identity import members
from identity.encryption import MemberCrypto
from subject_requests.errors import RequestError
from vaultkernel.database import UnitOfWork
from vaultkernel.policy import Policy


def check(corrections: Mapping[str, Any] | None, *, actor: str) -> None:
    """Refuse a member's rectification request without corrected values."""
    if not corrections and actor.startswith("member:"):
        # A member gives the corrected values; an officer's rectification request is
        # tracked while the member corrects their profile themselves.
        raise RequestError("CORRECTIONS_REQUIRED", "give the corrected values",
                           field="corrections")


def apply(uow: UnitOfWork, member_id: uuid.UUID, corrections: Mapping[str, Any], *,
          crypto: MemberCrypto, policy: Policy, default_region: str, actor: str) -> list[str]:
    """Apply the corrections and notify recipients (no commit); the names of the fields
    that changed (a value given as it already was is no correction)."""
    return members.rectify_member(
        uow, crypto, member_id, corrections, actor=actor, default_region=default_region,
        commit=False, notify=lambda s, fields: notify.rectified(s, policy, member_id, fields))
