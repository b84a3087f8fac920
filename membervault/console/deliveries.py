"""Webhook deliveries for officers: dead ones (the sender gave up) by default, or any
state and recipient, newest first; replay one. Deliveries name events, recipients and
internal ids, never a personal value."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from identity.principal import Principal
from membervault.console import officers, rendering
from membervault.web import sessions
from outbox import service, tracking
from vaultkernel.errors import DomainError

PAGE = 50
CLIENT = re.compile(r"^[a-z0-9._-]{3,64}$")


@officers.officers_only
def show(request: Request, officer: Principal) -> Response:
    """``GET /console/deliveries?state=dead|pending|delivered|any&client=&before=``."""
    services = officers.services_of(request)
    params = request.query_params
    state = params.get("state", "dead")
    state = state if state in (*tracking.STATES, "any") else "dead"
    client = params.get("client", "").strip()
    raw_before = params.get("before", "")
    before = int(raw_before) if raw_before.isdigit() and len(raw_before) < 19 else None
    with services.db.unit_of_work() as uow:
        rows = tracking.page(uow.session, state=None if state == "any" else state,
                             client_id=client if CLIENT.match(client) else None,
                             first=PAGE, before_id=before)
    return rendering.render(request, "deliveries.html", officer=officer, rows=rows,
                            state=state, client=client, states=tracking.STATES,
                            older=rows[-1].id if len(rows) == PAGE else None)


@officers.officers_only
def replay(request: Request, officer: Principal) -> Response:
    """``POST /console/deliveries/{delivery_id}/replay``: pending again, attempts reset."""
    services = officers.services_of(request)
    raw = request.path_params["delivery_id"]
    if not (raw.isdigit() and len(raw) < 19):
        return rendering.not_found(request, officer)
    try:
        with services.db.unit_of_work() as uow:
            service.replay_delivery(uow, int(raw), actor=officer.actor,
                                    now=services.clock.now())
    except DomainError:
        return rendering.not_found(request, officer)
    sessions.notify(request, "replayed")
    return officers.redirect("/deliveries?state=pending")
