"""``/graphql``: strawberry's ASGI view with the per-request context and the GPC signal.

The schema is synchronous (resolvers use synchronous SQLAlchemy, see
docs/architecture.md), so each operation runs in a worker thread with
``execute_sync``: a request waiting for the database (SQLite's write lock, a slow
PostgreSQL) holds its thread, not the event loop, and every other request is still
served. Context variables (the request id) are copied into the thread.
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException  # strawberry's own HTTP error type
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from consent.evidence import Evidence
from consent.service import apply_gpc_signal
from identity.principal import Principal
from membervault import graphiql
from membervault.auth import principal_of
from membervault.observability.graphql import ObservedOperation
from membervault.services import Services
from schema.context import Context
from schema.schema import build_schema
from vaultkernel.request_id import current_request_id
from vaultkernel.settings import Settings


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, services: Services, settings: Settings):
        super().__init__(
            build_schema(settings, observers=[ObservedOperation]),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=False,
        )
        self.services = services

    async def render_graphql_ide(self, request: Any) -> Any:
        """GraphiQL from this server's own assets, with a token sign-in."""
        return graphiql.page()

    def _apply_gpc(self, principal: Principal, headers: dict[str, str], scope: Scope) -> None:
        """Sec-GPC: 1 from a member is recorded and opts them out of sale/sharing."""
        client = scope.get("client")
        evidence = Evidence.from_request(client[0] if client else None, headers.get("user-agent"),
                                         True, self.services.keyring.derive("evidence-ip"))
        with self.services.db.unit_of_work() as uow:
            apply_gpc_signal(uow, self.services.policy, self.services.crypto, principal.member_id,
                             actor=principal.actor, evidence=evidence)

    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context(services=self.services, principal=principal_of(request),
                          request_id=current_request_id(), request=request, response=response)
        request.scope["graphql_context"] = context
        return context

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any,
                             context: Context, root_value: None,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        """strawberry's own ``execute_single`` (the same operation types allowed, the same
        400 answers), with the operation executed in a worker thread."""
        allowed = OperationType.from_http(request_adapter.method)
        if not self.allow_queries_via_get and request_adapter.method == "GET":
            allowed = allowed - {OperationType.QUERY}
        try:
            return await run_in_threadpool(self._execute, context, request_data, allowed)
        except CannotGetOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason()) from e
        except InvalidOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason(request_adapter.method)) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request") from e

    def _execute(self, context: Context, request_data: GraphQLRequestData,
                 allowed: set[OperationType]) -> ExecutionResult:
        try:
            return self.schema.execute_sync(
                request_data.query, variable_values=request_data.variables,
                context_value=context, operation_name=request_data.operation_name,
                allowed_operation_types=allowed, operation_extensions=request_data.extensions)
        finally:
            context.close()  # the answer is built: give the connection back now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of(scope)
        if principal is not None and principal.role == "member":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope["headers"]}
            if headers.get("sec-gpc") == "1":
                await run_in_threadpool(self._apply_gpc, principal, headers, scope)
        try:
            await super().__call__(scope, receive, send)
        finally:
            context = scope.get("graphql_context")
            if context is not None:
                context.close()  # a no-op unless the operation never ran
