"""Opening a request and carrying out the ones that need no background work.

Access and erasure requests are finished by the worker; rectification, restriction and
objection take effect at once, notifying recipients (GDPR Art. 19) through the outbox.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from consent import ledger
from consent.errors import ConsentError
from export import requests
from export.errors import RequestError
from export.models import DataSubjectRequest
from identity import members
from identity.models import Member
from membervault.services import Services
from outbox import notify
from vaultkernel.database import UnitOfWork

ACCESS_INTERVAL = dt.timedelta(hours=24)


def open_and_apply(uow: UnitOfWork, services: Services, member_id: uuid.UUID, type_: str, *,
                   jurisdiction: str, actor: str, identity_verification: str | None,
                   purpose: str | None = None, corrections: Mapping[str, Any] | None = None,
                   now: dt.datetime) -> DataSubjectRequest:
    """Open a request; apply it now when it needs no worker and identity is verified."""
    session = uow.session
    if type_ == "objection" and not purpose:
        raise RequestError("PURPOSE_REQUIRED", "say which purpose you object to",
                           field="purpose")
    if type_ == "rectification" and not corrections and actor.startswith("member:"):
        # A member gives the corrected values; an officer's rectification request is
        # tracked while the member corrects their profile themselves.
        raise RequestError("CORRECTIONS_REQUIRED", "give the corrected values",
                           field="corrections")
    member = session.get(Member, member_id)
    if member is None or member.status != "active":
        raise RequestError("MEMBER_NOT_FOUND", "no active member with this id",
                           field="memberId")
    if type_ == "access" and session.scalar(
            select(DataSubjectRequest.id).where(
                DataSubjectRequest.member_id == member_id, DataSubjectRequest.type == "access",
                DataSubjectRequest.state == "completed",
                DataSubjectRequest.received_at > now - ACCESS_INTERVAL).limit(1)) is not None:
        # GDPR Art. 12(5): manifestly excessive repetition; the last export is still there.
        raise RequestError("TOO_SOON", "one data export a day: download the last one")
    details: dict[str, object] = {"purpose": purpose} if purpose else {}
    if corrections:
        details["fields"] = sorted(corrections)  # names only: values are applied, not kept
    request = requests.open_request(session, member_id, type_, jurisdiction=jurisdiction,
                                    actor=actor, identity_verification=identity_verification,
                                    now=now, details=details)
    if request.state == "in_progress":
        apply_now(uow, services, request, actor=actor, corrections=corrections, now=now)
    uow.commit()
    return request


def apply_now(uow: UnitOfWork, services: Services, request: DataSubjectRequest, *, actor: str,
              corrections: Mapping[str, Any] | None, now: dt.datetime) -> None:
    session, policy = uow.session, services.policy
    member_id = request.member_id
    try:
        if request.type == "restriction":
            ledger.set_restriction(session, policy, member_id, restricted=True)
        elif request.type == "objection":
            ledger.set_objection(session, policy, member_id, str(request.details["purpose"]),
                                 objected=True, actor=actor)
        elif request.type == "rectification" and corrections is not None:
            members.rectify_member(
                uow, services.crypto, member_id, corrections, actor=actor,
                default_region=services.settings.default_region, commit=False,
                notify=lambda s, fields: notify.rectified(s, policy, member_id, fields))
        else:
            return  # access and erasure: the worker carries them out
    except ConsentError as exc:
        raise RequestError(exc.code, exc.message, field=exc.field) from None
    requests.advance(session, request, "completed", actor=actor, reason="applied", now=now)
