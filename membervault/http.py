"""ASGI middleware: request ids and the request's span (a caller's ``traceparent``
honoured), an access log without PII, no caching unless chosen, request body limits."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import quote

from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaultkernel import telemetry
from vaultkernel.request_id import reset_request_id, set_request_id

log = logging.getLogger("membervault.http")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Export download links carry a secret token in the path: never logged.
SECRET_PATH = re.compile(r"^/exports/[^/]+")
# What a path may show in the log as it is; anything else (a decoded %0A, non-ASCII) is
# percent-encoded again, so the path cannot break or fake a log line.
PATH_SAFE = "/:@!$&'()*+,;=-._~[]"
# W3C trace context only: baggage is not taken (it could carry anything a caller put in).
TRACE_CONTEXT = TraceContextTextMapPropagator()


def loggable_path(path: str) -> str:
    return quote(SECRET_PATH.sub("/exports/[token]", path), safe=PATH_SAFE)


class RequestContext:
    """Gives every request an id (``X-Request-ID``) and a server span (continuing the
    caller's ``traceparent``), and logs method, path, status, time.

    The query string is never logged nor put in the span: it could carry personal values.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.match(given) else secrets.token_hex(8)
        token = set_request_id(request_id)
        path = loggable_path(scope["path"])
        parent = TRACE_CONTEXT.extract({
            name: headers[name.encode()].decode("latin-1")
            for name in ("traceparent", "tracestate") if name.encode() in headers})
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with telemetry.root(f"{scope['method']} {path}", {
                "http.request.method": scope["method"], "url.path": path,
                "membervault.request_id": request_id}, context=parent,
                kind=SpanKind.SERVER) as span:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                span.set_attribute("http.response.status_code", status)
                took = round((time.perf_counter() - started) * 1000, 1)
                log.info("%s %s %s %.1fms rid=%s", scope["method"], path, status, took,
                         request_id, extra={"method": scope["method"], "path": path,
                                            "status": status, "durationMs": took})
                reset_request_id(token)


class NoStoreByDefault:
    """Answers carry ``Cache-Control: no-store`` unless their handler chose a caching
    policy (only the public key set does): GraphQL answers, sign-in, tokens, exports and
    error answers may hold personal data or secrets, which no browser or proxy may keep."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, whether or not they say their size."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await _too_large(send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = b'{"error":"request_too_large"}'
    headers: list[Any] = [(b"content-type", b"application/json"),
                          (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
