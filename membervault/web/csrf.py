"""CSRF protection for every POST of the privacy centre and of the officer console, by
structure: this middleware reads the form before any handler runs and refuses (403) a
POST whose ``csrf`` field is not the session's token, or whose ``Origin`` is another
site's. Handlers get the parsed form from :func:`form_of`."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from membervault.web import rendering

MAX_FIELDS = 40
FORM = "privacy_centre.form"


def form_of(request: HTTPConnection) -> dict[str, str]:
    """The fields of the POST being handled (checked by :class:`CsrfGuard`)."""
    form: dict[str, str] = request.scope[FORM]
    return form


def _same_origin(scope: Scope) -> bool:
    headers: dict[bytes, bytes] = {k: v for k, v in scope["headers"]
                                   if k in (b"origin", b"host")}
    origin = headers.get(b"origin")
    if origin is None:
        return True  # not sent by older browsers on same-origin POSTs; the token decides
    host = headers.get(b"host", b"").decode("latin-1")
    return urlsplit(origin.decode("latin-1")).netloc == host and host != ""


def _refused(request: Request) -> Response:
    return rendering.render(request, "refused.html", status_code=403)


class CsrfGuard:
    """``refuse`` renders the 403 page (the privacy centre's unless another is given)."""

    def __init__(self, app: ASGIApp, refuse: Callable[[Request], Response] = _refused):
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                  max_num_fields=MAX_FIELDS))
        except (UnicodeDecodeError, ValueError):
            form = {}
        expected = scope["session"].get("csrf")
        given = form.pop("csrf", "")
        if not (isinstance(expected, str) and hmac.compare_digest(given.encode(),
                                                                   expected.encode())
                and _same_origin(scope)):
            response = self.refuse(Request(scope))
            await response(scope, receive, send)
            return
        scope[FORM] = form
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
