"""The ASGI application: its routes and its middleware, nothing else.

The handlers live in :mod:`membervault.handlers`; bearer tokens are checked by one
authentication backend (:mod:`membervault.auth`) on the routes that take them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Route

from membervault import graphiql, readiness
from membervault.auth import BearerTokens, bearer_tokens
from membervault.console import officer_console
from membervault.handlers import health, oauth, privacy_notice, sign_in, well_known
from membervault.handlers.audience import audience_export
from membervault.handlers.exports import export_download
from membervault.handlers.graphql import GraphQLView
from membervault.handlers.metrics import metrics_endpoint
from membervault.http import BodyLimit, NoStoreByDefault, RequestContext
from membervault.observability.wiring import observe
from membervault.services import Services, build_services, ensure_signing_key
from membervault.threads import RequestThreads
from membervault.web import privacy_centre
from vaultkernel.database import MAX_CONNECTIONS
from vaultkernel.settings import Settings, load_settings

log = logging.getLogger("membervault.app")

# Requests do their database work in worker threads (handlers/graphql.py); a request may
# need a second connection while it holds one (the access log's writer: on SQLite for
# each entry, on PostgreSQL when reconnecting; a second unit of work), so there are at
# most half as many threads as connections.
REQUEST_THREADS = MAX_CONNECTIONS // 2


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or load_settings()
    services = services or build_services(settings)
    observe(services, "server")
    try:
        readiness.check(services)
    except readiness.NotReady as exc:
        # Served anyway, so /healthz and /readyz can say why; /readyz answers 503.
        log.error("not ready: %s", exc.message)
        not_ready: readiness.NotReady | None = exc
    else:
        ensure_signing_key(services)
        not_ready = None
    graphql_threads = RequestThreads(REQUEST_THREADS)
    authenticated = bearer_tokens(BearerTokens(services.verifier, settings.issuer,
                                               services.registrations))
    routes: list[BaseRoute] = [
        Route("/", lambda request: RedirectResponse("/privacy/"), methods=["GET"]),
        privacy_centre(services.keyring.derive("privacy-centre-session"),
                       https=settings.issuer.startswith("https://")),
        officer_console(services.keyring.derive("officer-console-session"),
                        https=settings.issuer.startswith("https://")),
        Route("/graphql", GraphQLView(services, settings, graphql_threads),
              methods=["GET", "POST"],
              middleware=authenticated),
        Route("/oauth/token", oauth.token, methods=["POST"]),
        Route("/auth/member/code", sign_in.request_code, methods=["POST"]),
        Route("/auth/member/token", sign_in.exchange_code, methods=["POST"]),
        Route("/.well-known/jwks.json", well_known.jwks, methods=["GET"]),
        Route("/.well-known/gpc.json", well_known.gpc, methods=["GET"]),
        Route("/policy", privacy_notice.privacy_notice, methods=["GET"]),
        Route("/policy.json", privacy_notice.privacy_notice, methods=["GET"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint(settings.metrics_token, settings.metrics_dir),
              methods=["GET"]),
        Route("/audience/{purpose}.ndjson", audience_export, methods=["GET"],
              middleware=authenticated),
        Route("/exports/{token}", export_download, methods=["GET"], middleware=authenticated),
        Route("/exports/{token}/signature", export_download, methods=["GET"],
              middleware=authenticated),
    ]

    if settings.graphiql_enabled:
        routes.append(graphiql.assets())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        yield
        graphql_threads.close()
        services.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContext), Middleware(NoStoreByDefault),
                    Middleware(BodyLimit, max_bytes=settings.max_body_bytes)],
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.not_ready = not_ready
    return app
