"""Opening a request and carrying out the ones that need no background work.

Access and erasure requests are finished by the worker; rectification, restriction and
objection take effect at once, notifying recipients (GDPR Art. 19) through the outbox.

Each use case takes the unit of work and commits it; its caller (a resolver) never does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from consent import ledger
from consent.errors import ConsentError
from export import requests
from export.errors import RequestError
from export.models import DataSubjectRequest
from identity import members
from identity.encryption import MemberCrypto
from identity.models import Member
from outbox import notify
from vaultkernel.database import UnitOfWork
from vaultkernel.policy import Policy

ACCESS_INTERVAL = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Workflow:
    """What carrying out a request at once needs besides the unit of work; built once by
    the composition root."""

    policy: Policy  # restriction and objection, and the recipients every change notifies
    crypto: MemberCrypto  # rectification: the member's values are sealed again
    default_region: str  # rectification: phone numbers without a country code


def open_and_apply(uow: UnitOfWork, workflow: Workflow, member_id: uuid.UUID, type_: str, *,
                   jurisdiction: str, actor: str, identity_verification: str | None,
                   purpose: str | None = None, corrections: Mapping[str, Any] | None = None,
                   now: dt.datetime) -> DataSubjectRequest:
    """Open a request; apply it now when it needs no worker and identity is verified.
    Commits."""
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
        apply_now(uow, workflow, request, actor=actor, corrections=corrections, now=now)
    uow.commit()
    return request


def verify_and_apply(uow: UnitOfWork, workflow: Workflow, request_id: uuid.UUID, method: str,
                     *, actor: str, now: dt.datetime) -> DataSubjectRequest:
    """Record how the requester's identity was verified (the clock starts again) and carry
    out a restriction or objection at once. Commits."""
    request = requests.get(uow.session, request_id)
    requests.verify_identity(uow.session, request, method, actor=actor, now=now)
    if request.type in ("restriction", "objection"):
        apply_now(uow, workflow, request, actor=actor, corrections=None, now=now)
    uow.commit()
    return request


def apply_now(uow: UnitOfWork, workflow: Workflow, request: DataSubjectRequest, *, actor: str,
              corrections: Mapping[str, Any] | None, now: dt.datetime) -> None:
    """Carry out a request that needs no worker, inside the caller's transaction (no
    commit: :func:`open_and_apply` and :func:`verify_and_apply` commit)."""
    session, policy = uow.session, workflow.policy
    member_id = request.member_id
    try:
        if request.type == "restriction":
            ledger.set_restriction(session, policy, member_id, restricted=True)
        elif request.type == "objection":
            ledger.set_objection(session, policy, member_id, str(request.details["purpose"]),
                                 objected=True, actor=actor)
        elif request.type == "rectification" and corrections is not None:
            members.rectify_member(
                uow, workflow.crypto, member_id, corrections, actor=actor,
                default_region=workflow.default_region, commit=False,
                notify=lambda s, fields: notify.rectified(s, policy, member_id, fields))
        else:
            return  # access and erasure: the worker carries them out
    except ConsentError as exc:
        raise RequestError(exc.code, exc.message, field=exc.field) from None
    requests.advance(session, request, "completed", actor=actor, reason="applied", now=now)
