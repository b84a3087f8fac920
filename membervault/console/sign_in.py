"""Officer sign-in: the form posts the officer's client id and secret; the server asks
its own token endpoint for a token with them (the client-credentials grant, exactly as
``POST /oauth/token`` does), verifies the token as ``/graphql`` would, and opens a
session for the principal only when it is an officer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from identity.jwt_checks import TokenRejected
from identity.oauth import FormRequest
from identity.principal import Principal
from membervault.console import officers, rendering
from membervault.web import sessions
from membervault.web.csrf import form_of

MAX_LENGTH = 200


def start(request: Request) -> Response:
    """``GET /console/``: the sign-in form, or the queue when signed in."""
    if officers.officer_of(request) is not None:
        return officers.redirect("/requests")
    return rendering.render(request, "sign_in.html", problem=None)


def officer_token(request: Request, client_id: str, secret: str) -> Principal | None:
    """The principal of a token the token endpoint issues for these credentials, or
    ``None`` when it issues none or the token does not verify."""
    services = officers.services_of(request)
    form = {"grant_type": "client_credentials", "client_id": client_id,
            "client_secret": secret}
    status, body, _ = services.token_endpoint.create_token_response(
        FormRequest(services.settings.issuer + "/oauth/token", {}, form))
    token = body.get("access_token") if status == 200 and isinstance(body, dict) else None
    if not isinstance(token, str):
        return None
    try:
        return services.verifier.verify(token)
    except TokenRejected:
        return None


def sign_in(request: Request) -> Response:
    """``POST /console/sign-in``."""
    form = form_of(request)
    client_id, secret = form.get("client_id", "").strip(), form.get("client_secret", "")
    principal = None
    if client_id and secret and len(client_id) <= MAX_LENGTH and len(secret) <= MAX_LENGTH:
        principal = officer_token(request, client_id, secret)
    if principal is None:
        return rendering.render(request, "sign_in.html", status_code=401, problem="wrong")
    if principal.role != officers.ROLE:
        return rendering.render(request, "sign_in.html", status_code=403,
                                problem="not_officer")
    officers.begin(request, principal)
    return officers.redirect("/requests")


def sign_out(request: Request) -> Response:
    """``POST /console/sign-out``."""
    officers.end(request)
    sessions.notify(request, "signed_out")
    return officers.redirect("/")
