"""The member's session in the privacy centre: a signed cookie (Starlette's
``SessionMiddleware`` over itsdangerous), ``HttpOnly``, ``SameSite=Lax``, ``Secure`` and
``__Host-`` prefixed when the service is served over https.

The cookie holds the internal member id (never a personal value), when the session began,
when it was last used, the CSRF token, the page language and a one-shot notice. It
expires after :data:`IDLE` seconds without use and :data:`LIFETIME` seconds after
sign-in, whichever comes first.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection

IDLE = 30 * 60  # seconds without a request before the cookie is refused
LIFETIME = 8 * 60 * 60  # seconds after sign-in before the member signs in again
TOUCH = 60  # the cookie is signed again (its idle clock reset) at most once a minute


def cookie_name(https: bool, name: str = "privacy") -> str:
    return f"__Host-{name}" if https else name


def session_middleware(secret: bytes, *, https: bool, name: str = "privacy",
                       idle: int = IDLE) -> Middleware:
    """The signed session cookie of a set of pages (the privacy centre's ``privacy``, the
    officer console's ``console``): one name and key each, so neither reads the other's."""
    return Middleware(SessionMiddleware, secret_key=secret.hex(),
                      session_cookie=cookie_name(https, name), max_age=idle, path="/",
                      same_site="lax", https_only=https)


def _session(request: HTTPConnection) -> dict[str, Any]:
    session: dict[str, Any] = request.session
    return session


def _now(request: HTTPConnection) -> int:
    return int(request.app.state.services.clock.now().timestamp())


def csrf_token(request: HTTPConnection) -> str:
    """The session's CSRF token (made on first use); every form posts it back."""
    session = _session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def member_of(request: HTTPConnection) -> uuid.UUID | None:
    """The signed-in member, or ``None`` (never signed in, signed out, or expired)."""
    session = _session(request)
    member = session.get("member")
    if not isinstance(member, str):
        return None
    now = _now(request)
    since, seen = session.get("since", 0), session.get("seen", 0)
    if now - since > LIFETIME or now - seen > IDLE:
        end(request)
        return None
    if now - seen > TOUCH:
        session["seen"] = now
    return uuid.UUID(member)


def begin(request: HTTPConnection, member_id: uuid.UUID) -> None:
    """A new session for a member who just signed in: nothing of the anonymous one is
    kept, the CSRF token included."""
    session = _session(request)
    languages = {k: session[k] for k in ("language", "chosen") if session.get(k)}
    session.clear()
    now = _now(request)
    session.update(member=str(member_id), since=now, seen=now,
                   csrf=secrets.token_urlsafe(32), **languages)


def end(request: HTTPConnection) -> None:
    _session(request).clear()


def preferred_language(request: HTTPConnection) -> str | None:
    language = _session(request).get("language")
    return language if isinstance(language, str) else None


def chosen_language(request: HTTPConnection) -> str | None:
    """The language picked in the page's language chooser, if any."""
    language = _session(request).get("chosen")
    return language if isinstance(language, str) else None


def choose_language(request: HTTPConnection, language: str) -> None:
    """Remember the chooser's pick for the rest of the session (it wins over the
    member's preferred language and the browser's)."""
    _session(request)["chosen"] = language


def remember_language(request: HTTPConnection, language: str | None) -> None:
    """The member's preferred language, once a read of their profile has shown it."""
    session = _session(request)
    if language is None:
        session.pop("language", None)
    elif session.get("language") != language:
        session["language"] = language


def notify(request: HTTPConnection, notice: str) -> None:
    """A notice for the next page (after a redirect): a key of :mod:`.notices`."""
    _session(request)["notice"] = notice


def take_notice(request: HTTPConnection) -> str | None:
    notice = _session(request).pop("notice", None)
    return notice if isinstance(notice, str) else None
