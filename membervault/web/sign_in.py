"""Signing in with an email address and a one-time code (the use cases behind
``/auth/member/code`` and ``/auth/member/token``), and signing out."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from identity.sign_in import SignInFailed, TooManyRequests
from membervault.handlers.sign_in import mail_code
from membervault.web import pages, rendering, sessions
from membervault.web.csrf import form_of

MAX_EMAIL = 320


def start(request: Request) -> Response:
    """``GET /privacy/``: the sign-in form, or the profile when signed in."""
    if sessions.member_of(request) is not None:
        return pages.redirect("/profile")
    return rendering.render(request, "sign_in.html", problem=None)


def send_code(request: Request) -> Response:
    """``POST /privacy/sign-in``: mail a code if the address is a member's; the answer
    is the same either way."""
    services = pages.services_of(request)
    email = form_of(request).get("email", "").strip()
    if not email or len(email) > MAX_EMAIL:
        return rendering.render(request, "sign_in.html", status_code=400,
                                problem="email_required")
    try:
        with services.db.unit_of_work() as uow:
            to_send = services.sign_in.request(uow, email)
    except TooManyRequests:
        return rendering.render(request, "sign_in.html", status_code=429,
                                problem="too_many")
    response = rendering.render(request, "code.html", email=email, problem=None)
    if to_send is not None:
        response.background = BackgroundTask(mail_code, services, to_send,
                                             rendering.language_of(request))
    return response


def check_code(request: Request) -> Response:
    """``POST /privacy/sign-in/code``: a right code begins a new session."""
    services = pages.services_of(request)
    form = form_of(request)
    email, code = form.get("email", "").strip(), form.get("code", "").strip()
    try:
        with services.db.unit_of_work() as uow:
            member_id = services.sign_in.exchange(
                uow, email, code, request.client.host if request.client else "")
    except SignInFailed:
        return rendering.render(request, "code.html", status_code=400, email=email,
                                problem="wrong_code")
    except TooManyRequests as refused:  # too many guesses: wait, then ask for a new code
        response = rendering.render(request, "sign_in.html", status_code=429,
                                    problem="too_many")
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    sessions.begin(request, member_id)
    return pages.redirect("/profile")


def sign_out(request: Request) -> Response:
    """``POST /privacy/sign-out``."""
    sessions.end(request)
    sessions.notify(request, "signed_out")
    return pages.redirect("/")
