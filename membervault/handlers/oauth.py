"""``POST /oauth/token``: the OAuth2 client-credentials grant (RFC 6749 4.4)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from identity.oauth import FormRequest
from membervault.auth import NO_STORE
from membervault.handlers import services_of


def form_of(body: bytes) -> dict[str, str] | None:
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:  # RFC 6749 3.2: parameters MUST NOT be included more than once
            return None
        form[key] = value
    return form


def oauth_error(error: str, status: int = 400, description: str | None = None) -> JSONResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return JSONResponse(body, status_code=status, headers=NO_STORE)


async def token(request: Request) -> Response:
    services = services_of(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != (
            "application/x-www-form-urlencoded"):
        return oauth_error("invalid_request", description="use a form-encoded body")
    form = form_of(await request.body())
    if form is None:
        return oauth_error("invalid_request", description="malformed or repeated parameters")
    oauth_request = FormRequest(services.settings.issuer + "/oauth/token", request.headers, form)
    status, body, headers = await run_in_threadpool(
        services.token_endpoint.create_token_response, oauth_request)
    return JSONResponse(body, status_code=status, headers={**dict(headers), **NO_STORE})
