"""``/graphql``: strawberry's ASGI view with the per-request context and the GPC signal."""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from consent.ledger import Evidence
from consent.service import apply_gpc_signal
from identity.principal import Principal
from membervault.auth import principal_of
from membervault.services import Services
from schema.context import Context
from schema.schema import build_schema
from vaultkernel.request_id import current_request_id
from vaultkernel.settings import Settings


class GraphQLView(GraphQL[Context, None]):
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
            apply_gpc_signal(uow, self.services.policy, principal.member_id,
                             actor=principal.actor, evidence=evidence)

    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context(services=self.services, principal=principal_of(request),
                          request_id=current_request_id(), request=request, response=response)
        request.scope["graphql_context"] = context
        return context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of(scope)
        if principal is not None and principal.role == "member":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope["headers"]}
            if headers.get("sec-gpc") == "1":
                self._apply_gpc(principal, headers, scope)
        try:
            await super().__call__(scope, receive, send)
        finally:
            context = scope.get("graphql_context")
            if context is not None:
                context.close()
