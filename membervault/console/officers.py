"""The officer's session in the console and the guard of every console page.

The signed cookie (``console``; ``__Host-console`` over https) holds the officer's id (a
registered principal's id, never a member's value), when the session began and was last
used, the CSRF token, the page language and a one-shot notice. A session lasts as long as
the access token the sign-in obtained (``client_token_ttl``), and ends after
:data:`IDLE` seconds without a request. Every page checks, before it runs, that the
principal is still a registered, active officer (as the bearer-token check does for
``/graphql``): anyone else, a member's session included, is refused (fail closed).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from identity.principal import Principal
from membervault.services import Services
from membervault.web import sessions

ROOT = "/console"
ROLE = "officer"  # what the GraphQL officer fields require (schema.access.Role.OFFICER)
IDLE = 15 * 60  # seconds without a request before the cookie is refused
Page = Callable[[Request, Principal], Response]


def services_of(request: HTTPConnection) -> Services:
    services: Services = request.app.state.services
    return services


def _session(request: HTTPConnection) -> dict[str, Any]:
    session: dict[str, Any] = request.session
    return session


def _now(request: HTTPConnection) -> int:
    return int(services_of(request).clock.now().timestamp())


def begin(request: HTTPConnection, principal: Principal) -> None:
    """A new session for an officer who just signed in: nothing of the anonymous one is
    kept but the page language."""
    session = _session(request)
    language = session.get("language")
    session.clear()
    now = _now(request)
    session.update(officer=principal.subject, role=principal.role, since=now, seen=now,
                   csrf=secrets.token_urlsafe(32))
    if language:
        session["language"] = language


def end(request: HTTPConnection) -> None:
    _session(request).clear()


def officer_of(request: HTTPConnection) -> Principal | None:
    """The signed-in officer, or ``None`` (never signed in, expired, or no longer an
    active officer). Reads the registration (kept in memory for a few seconds)."""
    session = _session(request)
    subject, role = session.get("officer"), session.get("role")
    if not isinstance(subject, str) or role != ROLE:
        return None
    services = services_of(request)
    now = _now(request)
    since, seen = session.get("since", 0), session.get("seen", 0)
    if now - since > services.settings.client_token_ttl or now - seen > IDLE:
        end(request)
        return None
    registration = services.registrations.of(subject)
    if not registration.active:  # a principal's role is fixed when it is created
        end(request)
        return None
    if now - seen > sessions.TOUCH:
        session["seen"] = now
    return Principal(role=ROLE, subject=subject, client_id=subject,
                     issuer=services.settings.issuer)


def officers_only(page: Page) -> Callable[[Request], Awaitable[Response]]:
    """The page needs a signed-in officer: anyone else is sent to sign in. The page runs
    in a worker thread (it reads the database)."""

    @functools.wraps(page)
    async def guarded(request: Request) -> Response:
        officer = await run_in_threadpool(officer_of, request)
        if officer is None:
            sessions.notify(request, "sign_in_first")
            return redirect("/")
        return await run_in_threadpool(page, request, officer)

    return guarded


def redirect(path: str) -> RedirectResponse:
    """Another page of the console (after a POST: 303, so the browser GETs)."""
    return RedirectResponse(ROOT + path, status_code=303)
