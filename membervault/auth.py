"""Bearer tokens, checked once per request by one Starlette authentication backend.

Routes that take a bearer token (``/graphql``, export downloads, the audience stream) run
behind :func:`bearer_tokens`; a handler reads the caller with :func:`principal_of`. No
token: the request is anonymous (and every guarded field refuses it). A bad token, an
unsupported scheme, a member token whose subject is not a member id, or a token of a
disabled client: 401 with the reason, before the handler runs.
"""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import Scope

from identity.clients import ActiveClients
from identity.jwt_checks import TokenRejected
from identity.principal import Principal
from identity.tokens import TokenVerifier
from vaultkernel.request_id import current_request_id

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class PrincipalUser(BaseUser):
    """The authenticated caller, as Starlette's ``request.user``."""

    def __init__(self, principal: Principal):
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.actor

    @property
    def identity(self) -> str:
        return self.principal.subject


class BearerTokens(AuthenticationBackend):
    def __init__(self, verifier: TokenVerifier, issuer: str, active_clients: ActiveClients):
        self.verifier = verifier
        self.issuer = issuer
        self.active_clients = active_clients

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        value = conn.headers.get("authorization")
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("unsupported_authorization_scheme")
        try:
            principal = self.verifier.verify(token.strip())
        except TokenRejected as exc:
            raise AuthenticationError(exc.reason) from None
        if principal.role == "member":
            try:
                principal.member_id  # noqa: B018  (a member subject must be a member id)
            except ValueError:
                raise AuthenticationError("invalid_subject") from None
        elif principal.issuer == self.issuer and not self.active_clients.is_active(
                principal.subject):
            raise AuthenticationError("client_disabled")
        return AuthCredentials([principal.role]), PrincipalUser(principal)


def unauthorized(reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_token", "reason": reason, "requestId": current_request_id()},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"',
                 **NO_STORE},
    )


def _on_error(conn: HTTPConnection, exc: AuthenticationError) -> JSONResponse:
    return unauthorized(str(exc))


def bearer_tokens(backend: BearerTokens) -> list[Middleware]:
    """The route middleware that authenticates bearer tokens."""
    return [Middleware(AuthenticationMiddleware, backend=backend, on_error=_on_error)]


def principal_of(scope: Scope | HTTPConnection) -> Principal | None:
    """The caller of a request behind :func:`bearer_tokens`; ``None`` when anonymous."""
    user = (scope.scope if isinstance(scope, HTTPConnection) else scope).get("user")
    return user.principal if isinstance(user, PrincipalUser) else None
