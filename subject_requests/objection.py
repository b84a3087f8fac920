"""Objection requests (GDPR Art. 21): the member objects to one legitimate-interest
purpose, at once.

The request names the purpose (``PURPOSE_REQUIRED``); the consent ledger refuses an
unknown one (``UNKNOWN_PURPOSE``) or one that does not rest on legitimate interest
(``NOT_OBJECTABLE``). ``member.objected`` goes to recipients in the caller's transaction.
"""

from __future__ import annotations

from consent import ledger
from consent.errors import ConsentError
from subject_requests.errors import RequestError
from subject_requests.models import DataSubjectRequest
from vaultkernel.database import UnitOfWork
from vaultkernel.policy import Policy


def check(purpose: str | None) -> None:
    """Refuse an objection request that does not say which purpose it objects to."""
    if not purpose:
        raise RequestError("PURPOSE_REQUIRED", "say which purpose you object to",
                           field="purpose")


def apply(uow: UnitOfWork, policy: Policy, request: DataSubjectRequest, *, actor: str) -> None:
    """Record the objection to the request's purpose (no commit)."""
    try:
        ledger.set_objection(uow.session, policy, request.member_id,
                             str(request.details["purpose"]), objected=True, actor=actor)
    except ConsentError as exc:
        raise RequestError(exc.code, exc.message, field=exc.field) from None
