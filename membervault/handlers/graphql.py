"""``/graphql``: a POST with a JSON body answered by a lean handler; strawberry's ASGI
view for the rest (GraphiQL, GET, other methods); the per-request context and the GPC
signal for both.

The schema is synchronous (resolvers use synchronous SQLAlchemy, see
docs/architecture.md), so each operation runs in a worker thread: a request waiting for
the database (SQLite's write lock, a slow PostgreSQL) holds its thread, not the event
loop, and every other request is still served. Context variables (the request id) are
copied into the thread.

A POST answers exactly as strawberry's view answered it (the same statuses, plain-text
reasons and JSON), with the body parsed and the answer encoded by orjson and none of the
view's generic machinery (request adapter, sub-response, content-type parsing by
``email.message``); bodies it refused with a 500 before (JSON that is not an object, text
that is not UTF-8, a non-string ``operationName``) get a 400 with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import HTTPException  # strawberry's own HTTP error type
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
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
from membervault.threads import RequestThreads
from schema.context import Context
from schema.schema import build_schema
from vaultkernel.request_id import current_request_id
from vaultkernel.settings import Settings

# What each method may run: queries and mutations by POST, nothing by GET (it serves
# GraphiQL), subscriptions never: the guard executes once, and a subscription root added
# later must not run its resolvers as a one-shot execution.
ALLOWED: dict[str, frozenset[OperationType]] = {
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}), "GET": frozenset()}
# Content types taken without parsing; any other goes through strawberry's parser.
PLAIN_JSON = frozenset({b"application/json", b"application/json; charset=utf-8",
                        b"application/json;charset=utf-8", b"application/json; charset=UTF-8"})
JSON_HEADERS = ((b"content-type", b"application/json"),)
FIELD_TYPES = (("query", str, "a string"), ("variables", dict, "an object"),
               ("extensions", dict, "an object"), ("operationName", str, "a string"))


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, services: Services, settings: Settings, threads: RequestThreads):
        super().__init__(
            build_schema(settings, observe=ObservedOperation),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=False,
        )
        self.services = services
        self.threads = threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of(scope)
        if principal is not None and principal.role == "member":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope["headers"]}
            if headers.get("sec-gpc") == "1":
                await self.threads.run(self._apply_gpc, principal, headers, scope)
        if scope["method"] == "POST":
            await self._post(scope, receive, send, principal)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            context = scope.get("graphql_context")
            if context is not None:
                context.close()  # a no-op unless the operation never ran

    async def _post(self, scope: Scope, receive: Receive, send: Send,
                    principal: Principal | None) -> None:
        request = Request(scope, receive)
        try:
            data = await self._request_data(scope, request)
            context = Context(services=self.services, principal=principal,
                              request_id=current_request_id(), request=request)
            try:
                result = await self.threads.run(self._execute, context, data, "POST")
            finally:
                context.close()  # a no-op unless the operation never ran
        except HTTPException as refused:
            await PlainTextResponse(refused.reason, status_code=refused.status_code)(
                scope, receive, send)
            return
        body = self.encode_json(self.answer(result))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode()), *JSON_HEADERS]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _request_data(scope: Scope, request: Request) -> GraphQLRequestData:
        """The operation a POST asks for, or the 400 strawberry's view answered."""
        if not is_json(next((v for k, v in scope["headers"] if k == b"content-type"), b"")):
            raise HTTPException(400, "Unsupported content type")
        data = parsed_json(await request.body())
        if isinstance(data, list):
            raise HTTPException(400, "Batching is not enabled")
        if not isinstance(data, dict):
            raise HTTPException(400, "The GraphQL request must be a JSON object.")
        for name, kind, described in FIELD_TYPES:
            value = data.get(name)
            if value is not None and not isinstance(value, kind):
                raise HTTPException(400, f"The GraphQL operation's `{name}` must be "
                                         f"{described} or null, if provided.")
        return GraphQLRequestData(query=data.get("query"), variables=data.get("variables"),
                                  operation_name=data.get("operationName"),
                                  extensions=data.get("extensions"))

    def _execute(self, context: Context, request_data: GraphQLRequestData,
                 method: str) -> ExecutionResult:
        try:
            return self.schema.execute_sync(
                request_data.query, variable_values=request_data.variables,
                context_value=context, operation_name=request_data.operation_name,
                allowed_operation_types=ALLOWED[method],
                operation_extensions=request_data.extensions)
        except CannotGetOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason()) from e
        except InvalidOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason(method)) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request") from e
        finally:
            context.close()  # the answer is built: give the connection back now

    @staticmethod
    def answer(result: ExecutionResult) -> dict[str, Any]:
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            answer["extensions"] = result.extensions
        return answer

    def encode_json(self, data: object) -> bytes:
        try:
            return orjson.dumps(data)
        except TypeError:  # what orjson refuses (an integer over 64 bits) json still writes
            return json.dumps(data, separators=(",", ":")).encode()

    # strawberry's view, for everything but a POST

    async def render_graphql_ide(self, request: Any) -> Any:
        """GraphiQL from this server's own assets, with a token sign-in."""
        return graphiql.page()

    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context(services=self.services, principal=principal_of(request),
                          request_id=current_request_id(), request=request)
        request.scope["graphql_context"] = context
        return context

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any,
                             context: Context, root_value: None,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        """strawberry's own ``execute_single`` (a GET: queries refused), with the operation
        executed in a worker thread."""
        return await self.threads.run(self._execute, context, request_data,
                                      request_adapter.method)

    def _apply_gpc(self, principal: Principal, headers: dict[str, str], scope: Scope) -> None:
        """Sec-GPC: 1 from a member is recorded and opts them out of sale/sharing."""
        client = scope.get("client")
        evidence = Evidence.from_request(client[0] if client else None, headers.get("user-agent"),
                                         True, self.services.keyring.derive("evidence-ip"))
        with self.services.db.unit_of_work() as uow:
            apply_gpc_signal(uow, self.services.policy, self.services.crypto, principal.member_id,
                             actor=principal.actor, evidence=evidence)


def is_json(content_type: bytes) -> bool:
    """As strawberry's view decided: a media type containing ``application/json``."""
    if content_type in PLAIN_JSON:
        return True
    return bool(content_type) and "application/json" in parse_content_type(
        content_type.decode("latin-1"))[0]


def parsed_json(body: bytes) -> Any:
    """orjson first; what it refuses and the standard library reads (UTF-16, NaN, integers
    over 64 bits), as before; anything else is a 400."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
        raise HTTPException(400, "Unable to parse request body as JSON") from None
