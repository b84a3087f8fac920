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
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import Scope

from identity.jwt_checks import TokenRejected
from identity.principal import Principal
from identity.registrations import Registration, Registrations
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
    """Answers from memory when it can (a token verified before, a registration read a
    few seconds ago); anything that needs the signature check or the database runs in a
    worker thread, never on the event loop."""

    def __init__(self, verifier: TokenVerifier, issuer: str, registrations: Registrations):
        self.verifier = verifier
        self.issuer = issuer
        self.registrations = registrations

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        value = conn.headers.get("authorization")
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("unsupported_authorization_scheme")
        principal = self._from_memory(token.strip())
        if principal is None:
            principal = await run_in_threadpool(self._verified, token.strip())
        return AuthCredentials([principal.role]), PrincipalUser(principal)

    def _from_memory(self, token: str) -> Principal | None:
        principal = self.verifier.remembered(token)
        if principal is None:
            return None
        registration = None
        if self._registered_here(principal):
            registration = self.registrations.fresh(principal.subject)
            if registration is None:
                return None
        return self._admitted(principal, registration)

    def _verified(self, token: str) -> Principal:
        try:
            principal = self.verifier.verify(token)
        except TokenRejected as exc:
            raise AuthenticationError(exc.reason) from None
        registration = (self.registrations.of(principal.subject)
                        if self._registered_here(principal) else None)
        return self._admitted(principal, registration)

    def _registered_here(self, principal: Principal) -> bool:
        """Clients, officers and admins of this issuer: their registration can be disabled."""
        return principal.role != "member" and principal.issuer == self.issuer

    @staticmethod
    def _admitted(principal: Principal, registration: Registration | None) -> Principal:
        if principal.role == "member":
            try:
                principal.member_id  # noqa: B018  (a member subject must be a member id)
            except ValueError:
                raise AuthenticationError("invalid_subject") from None
        elif registration is not None and not registration.active:
            raise AuthenticationError("client_disabled")
        return principal


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
