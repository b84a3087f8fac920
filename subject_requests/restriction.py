"""Restriction requests (GDPR Art. 18): processing of the member is restricted at once.

``member.restricted`` goes to recipients through the outbox, in the caller's transaction.
Lifting a restriction is not a request (``liftMyRestriction``, an officer's
``setProcessingRestriction``).
"""

from __future__ import annotations

from consent import ledger
from consent.errors import ConsentError
from subject_requests.errors import RequestError
from subject_requests.models import DataSubjectRequest
from vaultkernel.database import UnitOfWork
from vaultkernel.policy import Policy


def apply(uow: UnitOfWork, policy: Policy, request: DataSubjectRequest) -> None:
    """Restrict the request's member (no commit)."""
    try:
        ledger.set_restriction(uow.session, policy, request.member_id, restricted=True)
    except ConsentError as exc:
        raise RequestError(exc.code, exc.message, field=exc.field) from None
