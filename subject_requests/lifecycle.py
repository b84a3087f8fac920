"""The life of a data subject request: a state machine with a legal due date.

States: received -> identity_verification -> in_progress -> (extended) ->
waiting_for_recipients -> completed, or denied (with a reason code) from any open state.
An erasure that meets a legal hold is ``held``: answered (what could be erased was, the
member was told why the rest is kept), its clock no longer runs, and it goes on to
waiting_for_recipients or completed once the hold ends. Every transition is recorded
with who made it and why.

Helpers here take a ``Session`` and never commit; the officers' use cases
(:func:`extend_request`, :func:`deny_request`, :func:`find_requests`) take the unit of
work and commit. Opening a request and verifying identity are in
:mod:`subject_requests.opening`, because they carry out some request types at once.
Due dates come from :class:`~subject_requests.deadlines.Deadlines` (the controller's time
zone and public holidays); the clock stops during identity verification only where the
jurisdiction says so (GDPR, not CCPA).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from subject_requests.deadlines import JURISDICTIONS, Deadlines
from subject_requests.errors import RequestError
from subject_requests.models import DataSubjectRequest, RequestTransition
from vaultkernel.database import UnitOfWork

TYPES = ("access", "erasure", "rectification", "restriction", "objection")
OPEN_STATES = ("received", "identity_verification", "in_progress", "extended",
               "waiting_for_recipients", "held")
# Open states whose legal clock runs (a held erasure was answered within its deadline).
CLOCKED_STATES = tuple(s for s in OPEN_STATES if s != "held")
DENIAL_CODES = ("UNVERIFIABLE_IDENTITY", "MANIFESTLY_UNFOUNDED", "EXCESSIVE", "LEGAL_HOLD",
                "LEGAL_OBLIGATION", "LEGAL_CLAIMS", "DUPLICATE")
ALLOWED = {
    "received": {"identity_verification", "in_progress", "denied"},
    "identity_verification": {"in_progress", "denied"},
    "in_progress": {"extended", "waiting_for_recipients", "completed", "denied", "held"},
    "extended": {"waiting_for_recipients", "completed", "denied", "held"},
    "waiting_for_recipients": {"completed", "denied"},
    "held": {"waiting_for_recipients", "completed"},
    "completed": set(),
    "denied": set(),
}


def _transition(session: Session, request: DataSubjectRequest, to_state: str, *, actor: str,
                reason: str | None, now: dt.datetime) -> None:
    if to_state not in ALLOWED[request.state]:
        raise RequestError("INVALID_TRANSITION",
                           f"a request in state {request.state} cannot become {to_state}")
    if request.state == "identity_verification":
        request.paused_since = None  # verified (the caller set the due date) or closed
    session.add(RequestTransition(request_id=request.id, from_state=request.state,
                                  to_state=to_state, at=now, actor=actor, reason=reason))
    request.state = to_state
    if to_state in ("completed", "denied"):
        request.closed_at = now


def receive(session: Session, member_id: uuid.UUID, type_: str, *, jurisdiction: str,
            actor: str, identity_verification: str | None, now: dt.datetime,
            details: dict[str, object] | None = None,
            deadlines: Deadlines | None = None) -> DataSubjectRequest:
    """Record a new request and move it on from ``received`` (no commit, nothing carried
    out: :func:`subject_requests.opening.open_request` is the use case).
    ``identity_verification`` says how identity was verified; ``None`` means it still has
    to be (where the jurisdiction allows it, the clock is paused until it is).
    ``deadlines``: the controller's calendar (the use case passes the policy's; without
    one, days end at midnight UTC and only weekends are days off)."""
    deadlines = deadlines or Deadlines()
    if type_ not in TYPES:
        raise RequestError("UNKNOWN_TYPE", f"type must be one of {', '.join(TYPES)}",
                           field="type")
    rules = JURISDICTIONS.get(jurisdiction)
    if rules is None:
        raise RequestError("UNKNOWN_JURISDICTION",
                           f"jurisdiction must be one of {', '.join(JURISDICTIONS)}",
                           field="jurisdiction")
    duplicate = session.scalar(
        select(DataSubjectRequest.id).where(DataSubjectRequest.member_id == member_id,
                                            DataSubjectRequest.type == type_,
                                            DataSubjectRequest.state.in_(OPEN_STATES)))
    if duplicate is not None:
        raise RequestError("DUPLICATE", f"an open {type_} request exists already")
    request = DataSubjectRequest(
        id=uuid.uuid4(), member_id=member_id, type=type_, jurisdiction=jurisdiction,
        state="received", received_at=now, due_at=deadlines.due(jurisdiction, now),
        opened_by=actor,
        identity_verification=identity_verification, details=details or {})
    session.add(request)
    session.flush()  # before its transitions (no relationship() orders them)
    session.add(RequestTransition(request_id=request.id, from_state=None, to_state="received",
                                  at=now, actor=actor, reason=None))
    if identity_verification is None:
        _transition(session, request, "identity_verification", actor=actor,
                    reason="identity to be verified", now=now)
        if rules.identity_pauses_clock:
            request.paused_since = now
    else:
        _transition(session, request, "in_progress", actor=actor,
                    reason=f"identity verified: {identity_verification}", now=now)
    return request


def get(session: Session, request_id: uuid.UUID) -> DataSubjectRequest:
    request = session.get(DataSubjectRequest, request_id)
    if request is None:
        raise RequestError("NOT_FOUND", "no such request")
    return request


def verify_identity(session: Session, deadlines: Deadlines, request: DataSubjectRequest,
                    method: str, *, actor: str, now: dt.datetime) -> None:
    """Record how identity was verified. Where the clock was paused, the period is counted
    again from now, as if the request had been received now."""
    if not method.strip():
        raise RequestError("METHOD_REQUIRED", "say how identity was verified", field="method")
    if request.state == "identity_verification" and request.paused_since is not None:
        request.due_at = deadlines.due(request.jurisdiction, now)
    request.identity_verification = method.strip()[:200]
    _transition(session, request, "in_progress", actor=actor,
                reason=f"identity verified: {request.identity_verification}", now=now)


def extend(session: Session, deadlines: Deadlines, request: DataSubjectRequest, reason: str,
           *, actor: str, now: dt.datetime) -> None:
    """Extend once (GDPR: two months; CCPA: 45 days), within the first period (the
    requester must be told before it ends); the reason is told to the member. The new due
    date is the whole period counted from the start of the clock."""
    if request.extended:
        raise RequestError("ALREADY_EXTENDED", "a request can be extended only once")
    if not reason.strip():
        raise RequestError("REASON_REQUIRED", "give the reason the member will be told",
                           field="reason")
    if request.state not in ("in_progress",):
        raise RequestError("INVALID_TRANSITION",
                           f"a request in state {request.state} cannot be extended")
    if now > request.due_at:
        raise RequestError("EXTENSION_TOO_LATE",
                           "an extension must be decided, and told to the requester, within "
                           f"the first period, which ended {request.due_at.isoformat()}")
    request.due_at = deadlines.extended_due(request.jurisdiction,
                                            clock_start(session, request))
    request.extended = True
    request.extension_reason = reason.strip()
    _transition(session, request, "extended", actor=actor, reason=reason.strip(), now=now)


def deny(session: Session, request: DataSubjectRequest, code: str, reason: str, *, actor: str,
         now: dt.datetime) -> None:
    if code not in DENIAL_CODES:
        raise RequestError("UNKNOWN_DENIAL_CODE",
                           f"code must be one of {', '.join(DENIAL_CODES)}", field="code")
    request.denial_code = code
    request.denial_reason = reason.strip() or None
    _transition(session, request, "denied", actor=actor, reason=f"{code}: {reason}".strip(),
                now=now)


def advance(session: Session, request: DataSubjectRequest, to_state: str, *, actor: str,
            reason: str | None, now: dt.datetime) -> None:
    _transition(session, request, to_state, actor=actor, reason=reason, now=now)


def transitions(session: Session, request_id: uuid.UUID) -> list[RequestTransition]:
    return list(session.scalars(select(RequestTransition)
                                .where(RequestTransition.request_id == request_id)
                                .order_by(RequestTransition.id)))


def history(session: Session, member_id: uuid.UUID,
            ) -> list[tuple[DataSubjectRequest, list[RequestTransition]]]:
    """Every request of the member, oldest first, each with its transitions in order (two
    queries): what the member's export lists."""
    requests = list(session.scalars(select(DataSubjectRequest)
                                    .where(DataSubjectRequest.member_id == member_id)
                                    .order_by(DataSubjectRequest.received_at,
                                              DataSubjectRequest.id)))
    steps: dict[uuid.UUID, list[RequestTransition]] = {r.id: [] for r in requests}
    if requests:
        for step in session.scalars(select(RequestTransition)
                                    .where(RequestTransition.request_id.in_(list(steps)))
                                    .order_by(RequestTransition.id)):
            steps[step.request_id].append(step)
    return [(r, steps[r.id]) for r in requests]


def clock_start(session: Session, request: DataSubjectRequest) -> dt.datetime:
    """When the request's period started: its receipt, or, where the clock stopped while
    identity was verified, the verification."""
    if not JURISDICTIONS[request.jurisdiction].identity_pauses_clock:
        return request.received_at
    verified = session.scalar(
        select(RequestTransition.at).where(
            RequestTransition.request_id == request.id,
            RequestTransition.from_state == "identity_verification",
            RequestTransition.to_state == "in_progress"))
    return verified or request.received_at


def effective_due(request: DataSubjectRequest, now: dt.datetime,
                  deadlines: Deadlines) -> dt.datetime:
    """The due date as of now: while the clock is stopped for identity verification, the
    due date if identity were verified now."""
    if request.paused_since is not None:
        return deadlines.due(request.jurisdiction, now)
    return request.due_at


def is_overdue(request: DataSubjectRequest, now: dt.datetime) -> bool:
    """Open, its clock running, and past its due date."""
    return (request.state in CLOCKED_STATES and request.paused_since is None
            and request.due_at < now)


def listing(*, states: Sequence[str] = (), overdue: bool = False,
            due_within: dt.timedelta | None = None, member_id: uuid.UUID | None = None,
            now: dt.datetime) -> Select[DataSubjectRequest]:
    query = select(DataSubjectRequest)
    if states:
        query = query.where(DataSubjectRequest.state.in_(states))
    if overdue or due_within is not None:
        # Paused requests are never overdue: their clock is stopped.
        query = query.where(DataSubjectRequest.state.in_(CLOCKED_STATES),
                            DataSubjectRequest.paused_since.is_(None))
        limit = now + (due_within or dt.timedelta(0))
        query = query.where(DataSubjectRequest.due_at <= limit)
        if overdue:
            query = query.where(DataSubjectRequest.due_at < now)
    if member_id is not None:
        query = query.where(DataSubjectRequest.member_id == member_id)
    return query.order_by(DataSubjectRequest.due_at, DataSubjectRequest.id)


# --------------------------------------------------------------------------------------
# What callers are shown


@dataclass(frozen=True)
class Download:
    """Where the member downloads a completed access request's archive."""

    url: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class Snapshot:
    """A request as of ``now``: its row, its transitions (oldest first), the due date
    with the clock stopped while identity is verified, and whether it is overdue."""

    request: DataSubjectRequest
    transitions: list[RequestTransition]
    due_at: dt.datetime
    overdue: bool
    download: Download | None = None


def snapshot(session: Session, request: DataSubjectRequest, now: dt.datetime,
             deadlines: Deadlines, *, download: Download | None = None) -> Snapshot:
    return Snapshot(request=request, transitions=transitions(session, request.id),
                    due_at=effective_due(request, now, deadlines),
                    overdue=is_overdue(request, now), download=download)


# --------------------------------------------------------------------------------------
# Officers' use cases (each commits)


def extend_request(uow: UnitOfWork, deadlines: Deadlines, request_id: uuid.UUID, reason: str,
                   *, actor: str, now: dt.datetime) -> Snapshot:
    """Extend a request's deadline once, within its first period, with the reason the
    member is told. Commits."""
    request = get(uow.session, request_id)
    extend(uow.session, deadlines, request, reason, actor=actor, now=now)
    uow.commit()
    return snapshot(uow.session, request, now, deadlines)


def deny_request(uow: UnitOfWork, deadlines: Deadlines, request_id: uuid.UUID, code: str,
                 reason: str, *, actor: str, now: dt.datetime) -> Snapshot:
    """Close an open request as denied, with a denial code and the reason. Commits."""
    request = get(uow.session, request_id)
    deny(uow.session, request, code, reason, actor=actor, now=now)
    uow.commit()
    return snapshot(uow.session, request, now, deadlines)


def find_request(uow: UnitOfWork, deadlines: Deadlines, request_id: uuid.UUID, *,
                 now: dt.datetime) -> Snapshot | None:
    """One request with its history as of ``now``; ``None`` when unknown. Reads only."""
    request = uow.session.get(DataSubjectRequest, request_id)
    return None if request is None else snapshot(uow.session, request, now, deadlines)


def find_requests(uow: UnitOfWork, deadlines: Deadlines, *, states: Sequence[str] = (),
                  overdue: bool = False, due_within: dt.timedelta | None = None,
                  member_id: uuid.UUID | None = None, offset: int = 0, limit: int,
                  now: dt.datetime) -> list[Snapshot]:
    """Requests matching every filter given, soonest due first, at most ``limit`` after the
    first ``offset``; reads only."""
    query = listing(states=states, overdue=overdue, due_within=due_within,
                    member_id=member_id, now=now)
    return [snapshot(uow.session, r, now, deadlines)
            for r in uow.session.scalars(query.offset(offset).limit(limit))]
