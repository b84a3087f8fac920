"""A member's consent overview: every purpose with its current status (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from consent.models import Consent
from vaultkernel.policy import Policy, Purpose


@dataclass(frozen=True)
class PurposeStatus:
    purpose: Purpose
    status: str  # granted | withdrawn | not_given | stale | not_consent_based
    granted_notice_version: int | None
    objected: bool
    updated_at: dt.datetime | None


def overview(policy: Policy, consents: Mapping[str, Consent],
             objected: Iterable[str]) -> list[PurposeStatus]:
    objected = set(objected)
    result = []
    for purpose in policy.purposes.values():
        row = consents.get(purpose.key)
        if not purpose.consent_based:
            status = "not_consent_based"
        elif row is None:
            status = "not_given"
        elif not row.granted:
            status = "withdrawn"
        elif not purpose.grant_is_current(row.notice_version):
            status = "stale"
        else:
            status = "granted"
        result.append(PurposeStatus(
            purpose=purpose, status=status,
            granted_notice_version=row.notice_version if row is not None and row.granted else None,
            objected=purpose.key in objected, updated_at=row.updated_at if row else None))
    return result
