"""Opening a request, and verifying the requester's identity afterwards.

Both carry out at once, in their own transaction, the types that need no background work
(:mod:`~subject_requests.rectification`, :mod:`~subject_requests.restriction`,
:mod:`~subject_requests.objection`), notifying recipients (GDPR Art. 19) through the
outbox; access and erasure requests are finished by the worker
(:mod:`~subject_requests.access`, :mod:`~subject_requests.erasure`).

Each use case takes the unit of work and commits it; its caller (a resolver) never does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.access_log import ReaderLog
from identity import members
from identity.encryption import MemberCrypto
from identity.members import MemberProfile
from identity.models import Member
from subject_requests import access, lifecycle, objection, rectification, restriction
from subject_requests.deadlines import Deadlines
from subject_requests.errors import RequestError
from subject_requests.lifecycle import Snapshot
from subject_requests.models import DataSubjectRequest
from vaultkernel.database import UnitOfWork
from vaultkernel.policy import Policy


@dataclass(frozen=True)
class Workflow:
    """What carrying out a request at once needs besides the unit of work; built once by
    the composition root."""

    policy: Policy  # restriction and objection, and the recipients every change notifies
    crypto: MemberCrypto  # rectification: the member's values are sealed again
    default_region: str  # rectification: phone numbers without a country code
    deadlines: Deadlines  # due dates: the policy's time zone and public holidays


def open_request(uow: UnitOfWork, workflow: Workflow, member_id: uuid.UUID, type_: str, *,
                 jurisdiction: str, actor: str, identity_verification: str | None,
                 purpose: str | None = None, corrections: Mapping[str, Any] | None = None,
                 now: dt.datetime) -> Snapshot:
    """Open a request; carry it out now when it needs no worker and identity is verified.
    Commits."""
    session = uow.session
    if type_ == "objection":
        objection.check(purpose)
    if type_ == "rectification":
        rectification.check(corrections, actor=actor)
    member = session.get(Member, member_id)
    if member is None or member.status != "active":
        raise RequestError("MEMBER_NOT_FOUND", "no active member with this id",
                           field="memberId")
    if type_ == "access":
        access.check(session, member_id, now=now)
    details: dict[str, object] = {"purpose": purpose} if purpose else {}
    if corrections:
        details["fields"] = sorted(corrections)  # names only: values are applied, not kept
    request = lifecycle.receive(session, member_id, type_, jurisdiction=jurisdiction,
                                actor=actor, identity_verification=identity_verification,
                                now=now, details=details, deadlines=workflow.deadlines)
    if request.state == "in_progress":
        _carry_out(uow, workflow, request, actor=actor, corrections=corrections, now=now)
    uow.commit()
    return lifecycle.snapshot(session, request, now, workflow.deadlines)


def correct_own_profile(uow: UnitOfWork, workflow: Workflow, member_id: uuid.UUID,
                        corrections: Mapping[str, Any], *, fields: Sequence[str],
                        log: ReaderLog, jurisdiction: str, identity_verification: str,
                        now: dt.datetime) -> MemberProfile:
    """A signed-in member corrects their profile (the privacy centre's form): a
    rectification request (GDPR Art. 16) carried out at once and kept, completed, with the
    names of the fields that changed, so the member follows it with their other requests;
    a form that changes nothing opens none. Commits, then reads ``fields`` of the profile
    back (logged first)."""
    session = uow.session
    changed = rectification.apply(uow, member_id, corrections, crypto=workflow.crypto,
                                  policy=workflow.policy,
                                  default_region=workflow.default_region, actor=log.principal)
    if changed:
        request = lifecycle.receive(session, member_id, "rectification",
                                    jurisdiction=jurisdiction, actor=log.principal,
                                    identity_verification=identity_verification, now=now,
                                    details={"fields": changed}, deadlines=workflow.deadlines)
        lifecycle.advance(session, request, "completed", actor=log.principal,
                          reason="applied", now=now)
    uow.commit()
    return members.read_own_profile(uow, workflow.crypto, member_id, fields=fields, log=log)


def verify_request_identity(uow: UnitOfWork, workflow: Workflow, request_id: uuid.UUID,
                            method: str, *, actor: str, now: dt.datetime) -> Snapshot:
    """Record how the requester's identity was verified (a stopped clock starts again)
    and carry out a restriction or objection at once. Commits."""
    request = lifecycle.get(uow.session, request_id)
    lifecycle.verify_identity(uow.session, workflow.deadlines, request, method, actor=actor,
                              now=now)
    if request.type in ("restriction", "objection"):
        _carry_out(uow, workflow, request, actor=actor, corrections=None, now=now)
    uow.commit()
    return lifecycle.snapshot(uow.session, request, now, workflow.deadlines)


def _carry_out(uow: UnitOfWork, workflow: Workflow, request: DataSubjectRequest, *,
               actor: str, corrections: Mapping[str, Any] | None, now: dt.datetime) -> None:
    """Carry out a request that needs no worker and complete it, inside the caller's
    transaction (no commit)."""
    if request.type == "restriction":
        restriction.apply(uow, workflow.policy, request)
    elif request.type == "objection":
        objection.apply(uow, workflow.policy, request, actor=actor)
    elif request.type == "rectification" and corrections is not None:
        changed = rectification.apply(uow, request.member_id, corrections,
                                      crypto=workflow.crypto, policy=workflow.policy,
                                      default_region=workflow.default_region, actor=actor)
        request.details = {**request.details, "fields": changed}
    else:
        return  # access and erasure: the worker carries them out
    lifecycle.advance(uow.session, request, "completed", actor=actor, reason="applied",
                      now=now)
