"""The member's data subject requests: open one (a copy of the data, erasure,
restriction), follow its state and due date, download the copy when it is ready; lift a
restriction."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from audit.access_log import AccessLogUnavailable
from consent.service import set_own_restriction
from export import archive
from identity.principal import Principal
from membervault.web import pages, rendering, sessions, words
from membervault.web.csrf import form_of
from subject_requests import access, opening
from subject_requests.errors import RequestError

OPENED_HERE = ("access", "erasure", "restriction")
JURISDICTION = "GDPR"
# How a request opened from these pages verified who asks (the member signed in with a
# code sent to their address).
SIGNED_IN = "signed in to the privacy centre"
REFUSALS = {"DUPLICATE": "duplicate_request", "TOO_SOON": "too_soon"}


@pages.members_only
def show(request: Request, member: Principal) -> Response:
    """``GET /privacy/requests``."""
    services = pages.services_of(request)
    with services.db.unit_of_work() as uow:
        overview = access.member_overview(uow, services.exports,
                                          services.request_workflow.deadlines,
                                          member.member_id, now=services.clock.now())
    return rendering.render(request, "requests.html", snapshots=overview.requests,
                            restricted=overview.restricted, words=words)


@pages.members_only
def open_request(request: Request, member: Principal) -> Response:
    """``POST /privacy/requests``: open one request; the sign-in verified identity."""
    services = pages.services_of(request)
    form = form_of(request)
    type_ = form.get("type", "")
    if type_ not in OPENED_HERE:
        return rendering.render(request, "not_found.html", status_code=400)
    if type_ == "erasure" and form.get("confirm") != "yes":
        sessions.notify(request, "confirm_erasure")
        return pages.redirect("/requests#erasure")
    try:
        with services.db.unit_of_work() as uow:
            opening.open_request(uow, services.request_workflow, member.member_id, type_,
                                 jurisdiction=JURISDICTION, actor=member.actor,
                                 identity_verification=SIGNED_IN,
                                 now=services.clock.now())
    except RequestError as refused:
        sessions.notify(request, REFUSALS.get(refused.code, "not_possible"))
    else:
        sessions.notify(request, "request_opened")
    return pages.redirect("/requests")


@pages.members_only
def lift_restriction(request: Request, member: Principal) -> Response:
    """``POST /privacy/requests/lift-restriction``."""
    services = pages.services_of(request)
    with services.db.unit_of_work() as uow:
        set_own_restriction(uow, services.policy, member.member_id, restricted=False)
    sessions.notify(request, "restriction_lifted")
    return pages.redirect("/requests")


@pages.members_only
def download(request: Request, member: Principal) -> Response:
    """``GET /privacy/requests/{request_id}/export``: the copy of the member's data, in
    the access log before a byte is sent."""
    services = pages.services_of(request)
    try:
        request_id = uuid.UUID(request.path_params["request_id"])
    except ValueError:
        return pages.not_found(request)
    now = services.clock.now()
    with services.db.unit_of_work() as uow:
        found = archive.find_request_download(uow.session, services.exports, request_id,
                                              member.member_id, now=now)
    if found is None:
        return pages.not_found(request)
    try:
        chunks = archive.open_download(services.db, services.exports, found, now=now,
                                       log=pages.reads(request, member))
    except AccessLogUnavailable:
        return pages.log_unavailable(request)
    except archive.ArchiveUnavailable:
        return rendering.render(request, "unavailable.html", status_code=500)
    return StreamingResponse(chunks, media_type="application/zip", headers={
        "Content-Length": str(found.size),
        "Content-Disposition": f'attachment; filename="{found.attachment_name}"'})
