"""The ASGI application: GraphQL, the token endpoint, member sign-in, JWKS, health."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from consent import ledger
from consent.errors import ConsentError
from consent.ledger import Evidence
from export import archive
from identity.jwt_checks import TokenRejected
from identity.oauth import FormRequest
from identity.principal import Principal
from identity.sign_in import CodeToSend, SignInFailed, TooManyRequests
from membervault import audience_export
from membervault.http import BodyLimit, RequestContext
from membervault.services import Services, build_services, ensure_signing_key
from schema.context import Context
from schema.schema import build_schema
from vaultkernel.clock import utcnow
from vaultkernel.request_id import current_request_id
from vaultkernel.settings import Settings, load_settings

log = logging.getLogger("membervault.app")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Unauthorized(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def bearer_principal(services: Services, headers: Any) -> Principal | None:
    """The principal of the request's bearer token; ``None`` when there is no token."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("unsupported_authorization_scheme")
    try:
        principal = services.verifier.verify(token.strip())
    except TokenRejected as exc:
        raise Unauthorized(exc.reason) from None
    if principal.role == "member":
        try:
            principal.member_id  # noqa: B018  (a member subject must be a member id)
        except ValueError:
            raise Unauthorized("invalid_subject") from None
    elif principal.issuer == services.settings.issuer and not services.active_clients.is_active(
            principal.subject):
        raise Unauthorized("client_disabled")
    return principal


def unauthorized(reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_token", "reason": reason, "requestId": current_request_id()},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
    )


class GraphQLView(GraphQL):  # type: ignore[type-arg]
    def __init__(self, services: Services, settings: Settings):
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=False,
        )
        self.services = services

    def _apply_gpc(self, principal: Principal, headers: dict[str, str], scope: Scope) -> None:
        """Sec-GPC: 1 from a member is recorded and opts them out of sale/sharing."""
        client = scope.get("client")
        evidence = Evidence.from_request(client[0] if client else None, headers.get("user-agent"),
                                         True, self.services.keyring.derive("evidence-ip"))
        with self.services.db.unit_of_work() as uow:
            try:
                ledger.apply_gpc(uow.session, self.services.policy, principal.member_id,
                                 actor=principal.actor, evidence=evidence)
            except ConsentError:
                return  # not an active member: nothing to opt out of
            uow.commit()

    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context(services=self.services, principal=request.scope["principal"],
                          request_id=current_request_id(), request=request, response=response)
        request.scope["graphql_context"] = context
        return context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            scope["principal"] = bearer_principal(self.services, headers)
        except Unauthorized as exc:
            await unauthorized(exc.reason)(scope, receive, send)
            return
        principal = scope["principal"]
        if principal is not None and principal.role == "member" and headers.get("sec-gpc") == "1":
            self._apply_gpc(principal, headers, scope)
        try:
            await super().__call__(scope, receive, send)
        finally:
            context = scope.get("graphql_context")
            if context is not None:
                context.close()


def _form(body: bytes) -> dict[str, str] | None:
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


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or load_settings()
    services = services or build_services(settings)
    ensure_signing_key(services)

    async def token(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != (
                "application/x-www-form-urlencoded"):
            return oauth_error("invalid_request", description="use a form-encoded body")
        form = _form(await request.body())
        if form is None:
            return oauth_error("invalid_request", description="malformed or repeated parameters")
        oauth_request = FormRequest(settings.issuer + "/oauth/token", request.headers, form)
        status, body, headers = services.token_endpoint.create_token_response(oauth_request)
        return JSONResponse(body, status_code=status, headers={**dict(headers), **NO_STORE})

    async def request_code(request: Request) -> Response:
        data = await _json_object(request)
        if data is None or not isinstance(data.get("email"), str) or set(data) != {"email"}:
            return oauth_error("invalid_request", description='send {"email": "..."}')
        try:
            with services.db.unit_of_work() as uow:
                to_send = services.sign_in.request(uow, data["email"])
        except TooManyRequests:
            return oauth_error("slow_down", 429, "too many codes requested; try later")
        task = BackgroundTask(_mail_code, services, to_send) if to_send else None
        return JSONResponse(
            {"status": "sent_if_registered",
             "message": "If this email belongs to a member, a sign-in code is on its way."},
            status_code=202, background=task, headers=NO_STORE)

    async def exchange_code(request: Request) -> Response:
        data = await _json_object(request)
        if (data is None or set(data) != {"email", "code"}
                or not all(isinstance(v, str) for v in data.values())):
            return oauth_error("invalid_request",
                               description='send {"email": "...", "code": "..."}')
        try:
            with services.db.unit_of_work() as uow:
                member_id = services.sign_in.exchange(uow, data["email"], data["code"])
        except SignInFailed:
            return oauth_error("invalid_grant", description="the code is wrong, used or expired")
        access_token, _ = services.issuer.issue(
            subject=str(member_id), role="member", ttl=settings.member_token_ttl,
            client_id="membervault-sign-in")
        return JSONResponse({"access_token": access_token, "token_type": "Bearer",
                             "expires_in": settings.member_token_ttl}, headers=NO_STORE)

    async def jwks(request: Request) -> Response:
        return JSONResponse(services.signing_keys.jwks(),
                            headers={"Cache-Control": "public, max-age=300"})

    async def gpc(request: Request) -> Response:
        return JSONResponse({"gpc": True, "lastUpdate": "2026-11-23"})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            with services.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001  (any failure means not ready)
            log.warning("database not reachable (request id %s)", current_request_id())
            return JSONResponse({"status": "database_unreachable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def export_download(request: Request) -> Response:
        """GET /exports/{token} (the ZIP) and /exports/{token}/signature (its JWS): only
        with the bearer token of the member the archive belongs to. Unknown, expired,
        erased and someone else's archives get the same 404."""
        try:
            principal = bearer_principal(services, request.headers)
        except Unauthorized as exc:
            return unauthorized(exc.reason)
        if principal is None:
            return JSONResponse({"error": "invalid_token", "reason": "missing_token",
                                 "requestId": current_request_id()}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer", **NO_STORE})
        member_id = principal.member_id if principal.role == "member" else None
        now = utcnow()
        with services.db.unit_of_work() as uow:
            found = archive.find_download(uow.session, services.exports,
                                          request.path_params["token"], member_id, now=now)
        if found is None:
            return JSONResponse({"error": "not_found"}, status_code=404, headers=NO_STORE)
        if request.url.path.endswith("/signature"):
            return Response(found.signature, media_type="application/jose", headers=NO_STORE)
        try:
            chunks = await run_in_threadpool(archive.open_download, services.db,
                                             services.exports, found, now=now)
        except archive.ArchiveUnavailable as exc:
            log.error("export download refused (request id %s): %s", current_request_id(), exc)
            return JSONResponse({"error": "archive_unavailable",
                                 "requestId": current_request_id()}, status_code=500,
                                headers=NO_STORE)
        return StreamingResponse(chunks, media_type="application/zip", headers={
            **NO_STORE, "Content-Length": str(found.size), "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{found.attachment_name}"'})

    routes = [
        Route("/graphql", GraphQLView(services, settings), methods=["GET", "POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/auth/member/code", request_code, methods=["POST"]),
        Route("/auth/member/token", exchange_code, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/gpc.json", gpc, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        audience_export.route(services),
        Route("/exports/{token}", export_download, methods=["GET"]),
        Route("/exports/{token}/signature", export_download, methods=["GET"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        services.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContext),
                    Middleware(BodyLimit, max_bytes=settings.max_body_bytes)],
        lifespan=lifespan,
    )
    app.state.services = services
    return app


def _mail_code(services: Services, to_send: CodeToSend) -> None:
    services.mailer.send(
        to_send.email, "Your membervault sign-in code",
        f"Your sign-in code is {to_send.code}. It expires in "
        f"{services.settings.otp_ttl // 60} minutes. If you did not ask for it, ignore this.")
