"""The request queue: overdue, due soon, by state or member; one request with its
history; verify identity, extend, deny with a code (the GraphQL officer mutations' use
cases). Requests show internal ids, types, states, dates and officers' notes, never a
member's value."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from identity.principal import Principal
from membervault.console import officers, rendering
from membervault.console.notices import NOTICES
from membervault.web import sessions
from membervault.web.csrf import form_of
from subject_requests import erasure, lifecycle, opening
from subject_requests.errors import RequestError
from subject_requests.lifecycle import Snapshot
from vaultkernel.errors import DomainError

SHOWN = 200
DUE_SOON = dt.timedelta(days=7)
VIEWS = ("overdue", "due_soon", "open", "closed")
MAX_TEXT = 500


def opaque_id(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw or "")
    except ValueError:
        return None


@officers.officers_only
def queue(request: Request, officer: Principal) -> Response:
    """``GET /console/requests?view=overdue|due_soon|open|closed&state=...&member=<id>``."""
    services = officers.services_of(request)
    params = request.query_params
    view = params.get("view") if params.get("view") in VIEWS else "open"
    state = params.get("state", "")
    member_id = opaque_id(params.get("member")) if params.get("member") else None
    if view == "open":
        states = [state] if state in lifecycle.OPEN_STATES else list(lifecycle.OPEN_STATES)
    elif view == "closed":
        states = [state] if state in ("completed", "denied") else ["completed", "denied"]
    else:  # overdue or due soon: open requests whose clock runs
        states = [state] if state in lifecycle.OPEN_STATES else []
    with services.db.unit_of_work() as uow:
        found = lifecycle.find_requests(
            uow, services.request_workflow.deadlines, states=states,
            overdue=view == "overdue", due_within=DUE_SOON if view == "due_soon" else None,
            member_id=member_id, limit=SHOWN, now=services.clock.now())
    return rendering.render(request, "requests.html", officer=officer, snapshots=found,
                            view=view, state=state, member=member_id or "", views=VIEWS,
                            open_states=lifecycle.OPEN_STATES, shown=SHOWN)


@officers.officers_only
def show(request: Request, officer: Principal) -> Response:
    """``GET /console/requests/{request_id}``: one request, its history, what can be done;
    for an erasure, the recipients that have not acknowledged it."""
    services = officers.services_of(request)
    request_id = opaque_id(request.path_params["request_id"])
    if request_id is None:
        return rendering.not_found(request, officer)
    with services.db.unit_of_work() as uow:
        found = lifecycle.find_request(uow, services.request_workflow.deadlines, request_id,
                                       now=services.clock.now())
        awaiting = (erasure.awaiting_acknowledgement(uow, request_id)
                    if found is not None and found.request.type == "erasure" else [])
    if found is None:
        return rendering.not_found(request, officer)
    return rendering.render(request, "request.html", officer=officer, s=found,
                            awaiting=awaiting, denial_codes=lifecycle.DENIAL_CODES)


Change = Callable[[uuid.UUID, dict[str, str]], Snapshot]


def _change(request: Request, officer: Principal, notice: str, needs: str,
            change: Change) -> Response:
    request_id = opaque_id(request.path_params["request_id"])
    if request_id is None:
        return rendering.not_found(request, officer)
    form = {k: v.strip() for k, v in form_of(request).items()}
    if not form.get(needs) or len(form[needs]) > MAX_TEXT:
        sessions.notify(request, "reason_needed")
        return officers.redirect(f"/requests/{request_id}")
    try:
        change(request_id, form)
    except RequestError as refused:
        if refused.code == "NOT_FOUND":
            return rendering.not_found(request, officer)
        sessions.notify(request, refused.code if refused.code in NOTICES else "refused")
    except DomainError:
        sessions.notify(request, "refused")
    else:
        sessions.notify(request, notice)
    return officers.redirect(f"/requests/{request_id}")


@officers.officers_only
def verify_identity(request: Request, officer: Principal) -> Response:
    """``POST /console/requests/{request_id}/verify``: how identity was verified."""
    services = officers.services_of(request)

    def change(request_id: uuid.UUID, form: dict[str, str]) -> Snapshot:
        with services.db.unit_of_work() as uow:
            return opening.verify_request_identity(
                uow, services.request_workflow, request_id, form["method"],
                actor=officer.actor, now=services.clock.now())

    return _change(request, officer, "identity_verified", "method", change)


@officers.officers_only
def extend(request: Request, officer: Principal) -> Response:
    """``POST /console/requests/{request_id}/extend``: once, with the member's reason."""
    services = officers.services_of(request)

    def change(request_id: uuid.UUID, form: dict[str, str]) -> Snapshot:
        with services.db.unit_of_work() as uow:
            return lifecycle.extend_request(uow, services.request_workflow.deadlines,
                                            request_id, form["reason"], actor=officer.actor,
                                            now=services.clock.now())

    return _change(request, officer, "extended", "reason", change)


@officers.officers_only
def deny(request: Request, officer: Principal) -> Response:
    """``POST /console/requests/{request_id}/deny``: a code and the member's reason."""
    services = officers.services_of(request)

    def change(request_id: uuid.UUID, form: dict[str, str]) -> Snapshot:
        with services.db.unit_of_work() as uow:
            return lifecycle.deny_request(uow, services.request_workflow.deadlines,
                                          request_id, form.get("code", ""), form["reason"],
                                          actor=officer.actor, now=services.clock.now())

    return _change(request, officer, "denied", "reason", change)
