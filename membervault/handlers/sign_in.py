"""Passwordless member sign-in: ``POST /auth/member/code`` mails a one-time code,
``POST /auth/member/token`` exchanges it for a member access token."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from identity.sign_in import CodeToSend, SignInFailed, TooManyRequests
from membervault.auth import NO_STORE
from membervault.handlers import services_of
from membervault.handlers.oauth import oauth_error
from membervault.services import Services
from vaultkernel import languages
from vaultkernel.languages import N_

log = logging.getLogger("membervault.sign_in")


async def json_object(request: Request) -> dict[str, Any] | None:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


async def request_code(request: Request) -> Response:
    services = services_of(request)
    data = await json_object(request)
    if data is None or not isinstance(data.get("email"), str) or set(data) != {"email"}:
        return oauth_error("invalid_request", description='send {"email": "..."}')
    try:
        to_send = await run_in_threadpool(_request, services, data["email"])
    except TooManyRequests as refused:
        return too_many(refused)
    asked_in = languages.choose(None, request.headers.get("accept-language"))
    task = BackgroundTask(mail_code, services, to_send, asked_in) if to_send else None
    return JSONResponse(
        {"status": "sent_if_registered",
         "message": "If this email belongs to a member, a sign-in code is on its way."},
        status_code=202, background=task, headers=NO_STORE)


async def exchange_code(request: Request) -> Response:
    services = services_of(request)
    data = await json_object(request)
    if (data is None or set(data) != {"email", "code"}
            or not all(isinstance(v, str) for v in data.values())):
        return oauth_error("invalid_request",
                           description='send {"email": "...", "code": "..."}')
    caller = request.client.host if request.client else ""
    try:
        access_token = await run_in_threadpool(_exchange, services, data["email"], data["code"],
                                               caller)
    except SignInFailed:
        return oauth_error("invalid_grant", description="the code is wrong, used or expired")
    except TooManyRequests as refused:
        return too_many(refused)
    ttl = services.settings.member_token_ttl
    return JSONResponse({"access_token": access_token, "token_type": "Bearer",
                         "expires_in": ttl}, headers=NO_STORE)


def too_many(refused: TooManyRequests) -> Response:
    response = oauth_error("slow_down", 429, refused.message)
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


def _request(services: Services, email: str) -> CodeToSend | None:
    with services.db.unit_of_work() as uow:
        return services.sign_in.request(uow, email)


def _exchange(services: Services, email: str, code: str, caller: str) -> str:
    """A member access token for a good code (raises ``SignInFailed`` or
    ``TooManyRequests`` otherwise)."""
    with services.db.unit_of_work() as uow:
        member_id = services.sign_in.exchange(uow, email, code, caller)
    access_token, _ = services.issuer.issue(subject=str(member_id), role="member",
                                            ttl=services.settings.member_token_ttl,
                                            client_id="membervault-sign-in")
    return access_token


SUBJECT = N_("Your membervault sign-in code")
BODY = N_("Your sign-in code is %(code)s. It expires in %(minutes)d minutes. If you did not "
          "ask for it, ignore this.")


def mail_code(services: Services, to_send: CodeToSend, asked_in: str | None = None) -> None:
    """Mail the code in the member's preferred language, else ``asked_in`` (the language
    of the page or the ``Accept-Language`` it was asked with), else English. Runs after
    the answer was sent, so a failure is only logged: by type, since the relay's message
    names the refused address."""
    words = languages.mail(languages.first_supported((to_send.language, asked_in)))
    try:
        services.mailer.send(
            to_send.email, words.gettext(SUBJECT),
            words.gettext(BODY) % {"code": to_send.code,
                                   "minutes": services.settings.otp_ttl // 60})
    except Exception as exc:  # noqa: BLE001
        log.error("sign-in mail could not be sent: %s", type(exc).__name__)
