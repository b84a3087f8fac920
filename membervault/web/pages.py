"""What every page handler shares: the services, the signed-in member, the access log
bound to them, redirects and refusals."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from audit.access_log import ReaderLog
from consent.evidence import Evidence
from identity.principal import Principal
from membervault.services import Services
from membervault.web import rendering, sessions
from vaultkernel.request_id import current_request_id

ROOT = "/privacy"
Handler = Callable[[Request, Principal], Response]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def members_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The page needs a signed-in member: anyone else is sent to sign in. The page itself
    runs in a worker thread (it reads the database), so a page waiting on a lock holds up
    no other request."""

    @functools.wraps(handler)
    async def page(request: Request) -> Response:
        member_id = sessions.member_of(request)
        if member_id is None:
            sessions.notify(request, "sign_in_first")
            return redirect("/")
        return await run_in_threadpool(handler, request,
                                       Principal(role="member", subject=str(member_id)))

    return page


def redirect(path: str) -> RedirectResponse:
    """See another page of the privacy centre (after a POST: 303, so the browser GETs)."""
    return RedirectResponse(ROOT + path, status_code=303)


def reads(request: Request, member: Principal) -> ReaderLog:
    """The access log bound to the member in this request."""
    return services_of(request).access_log.reader(member.actor, current_request_id())


def evidence(request: Request) -> Evidence:
    """How a consent change was made: the browser, a keyed hash of its address, GPC."""
    services = services_of(request)
    return Evidence.from_request(request.client.host if request.client else None,
                                 request.headers.get("user-agent"), gpc_signal(request),
                                 services.keyring.derive("evidence-ip"))


def gpc_signal(request: Request) -> bool:
    return request.headers.get("sec-gpc") == "1"


def log_unavailable(request: Request) -> Response:
    """A read whose access log entry could not be written answers nothing (rule 2)."""
    return rendering.render(request, "unavailable.html", status_code=503)


def not_found(request: Request) -> Response:
    return rendering.render(request, "not_found.html", status_code=404)
