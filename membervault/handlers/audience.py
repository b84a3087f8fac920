"""Streamed bulk audience export: ``GET /audience/{purpose}.ndjson``.

The same audience as the GraphQL ``audience`` field (every member for whom the declared
purpose is permitted now, in internal-id order), as newline-delimited JSON, one member per
line, streamed a page at a time instead of typed GraphQL pages. The rules are those of
``audience``:

- a client's bearer token; the purpose must be in the token *and* in the client's current
  registration (rule 1), otherwise 403 ``PURPOSE_NOT_PERMITTED``;
- only fields of the purpose's categories: ``?fields=email,givenName`` (GraphQL names;
  default: every field the purpose covers); another field is 403 ``CATEGORY_NOT_IN_PURPOSE``;
- every page is one access-log entry, written by the gated read itself before its lines
  leave (rule 2). If the log cannot be
  written for the first page the answer is 503; for a later page the stream ends with one
  line ``{"error": {"code": "ACCESS_LOG_UNAVAILABLE", ...}}`` and nothing of that page.
  The next page is read only after the previous one was sent (no read-ahead): a client
  that leaves is logged for what it was sent and at most the page being read then.

A line holds the requested fields under their GraphQL names, ``null`` where the member has
no value; ``postalAddress`` and ``preferences`` are JSON objects, ``birthdate`` ISO text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from audit.access_log import AccessLogUnavailable
from consent import gate
from consent.gate import MemberData
from identity.models import PERSONAL_FIELDS
from identity.principal import Principal
from membervault.auth import NO_STORE, principal_of, unauthorized
from membervault.handlers import services_of
from membervault.services import Services
from schema.names import ATTRIBUTE_OF, GRAPHQL_NAME
from vaultkernel.policy import Purpose
from vaultkernel.request_id import current_request_id

PAGE = gate.MAX_PAGE
MEDIA_TYPE = "application/x-ndjson"


def graphql_value(attribute: str, value: object) -> object:
    """A stored value as the GraphQL field gives it: an address as ``PostalAddress``
    (camelCase keys, every key present); ``preferences`` is the member's own JSON and keeps
    their keys, as the GraphQL ``JSON`` scalar does."""
    if attribute == "postal_address" and isinstance(value, dict):
        return {"lines": value.get("lines"), "locality": value.get("locality"),
                "region": value.get("region"), "postalCode": value.get("postal_code"),
                "country": value.get("country")}
    return value



def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, "requestId": current_request_id()},
                        status_code=status, headers=NO_STORE)


def _fields(raw: str | None, covered: frozenset[str]) -> list[str] | JSONResponse:
    if raw is None:
        return [a for a in PERSONAL_FIELDS if a in covered]
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = sorted(n for n in names if n not in ATTRIBUTE_OF)
    if not names or unknown:
        return _error(400, "INVALID_FIELDS",
                      "fields must name member fields, e.g. fields=email,givenName")
    wanted = list(dict.fromkeys(ATTRIBUTE_OF[n] for n in names))
    outside = [GRAPHQL_NAME[a] for a in wanted if a not in covered]
    if outside:
        return _error(403, "CATEGORY_NOT_IN_PURPOSE",
                      f"not covered by the purpose: {', '.join(outside)}")
    return wanted


class _Export:
    """One export: reads a page, logs it, renders it; owns one unit of work."""

    def __init__(self, services: Services, principal: Principal, purpose: Purpose,
                 attributes: Sequence[str], request_id: str):
        self.services = services
        self.principal = principal
        self.purpose = purpose
        self.attributes = list(attributes)
        self.names = [GRAPHQL_NAME[a] for a in attributes]
        self.request_id = request_id
        self.uow = services.db.unit_of_work()
        self.log = services.access_log.reader(principal.actor, request_id)

    def page(self, after: uuid.UUID | None) -> tuple[bytes, uuid.UUID | None]:
        """The next page as NDJSON bytes (already logged) and where the next one starts."""
        services = self.services
        try:
            rows = gate.read_page(self.uow.session, services.crypto, services.policy,
                                  self.purpose, self.attributes, first=PAGE, after=after,
                                  log=self.log)
        finally:
            self.uow.rollback()  # end the read transaction between pages
        last = rows[-1].member_id if len(rows) == PAGE else None
        return self.render(rows), last

    def render(self, rows: list[MemberData]) -> bytes:
        pairs, dumps = list(zip(self.names, self.attributes, strict=True)), orjson.dumps
        if "postal_address" in self.attributes:  # the one value whose shape changes
            lines = [dumps({n: graphql_value(a, data.values.get(a)) for n, a in pairs})
                     for data in rows]
        else:
            lines = [dumps({n: data.values.get(a) for n, a in pairs}) for data in rows]
        lines.append(b"")
        return b"\n".join(lines) if rows else b""

    def lines(self, first: bytes, after: uuid.UUID | None) -> Iterator[bytes]:
        try:
            if first:
                yield first
            while after is not None:
                try:
                    chunk, after = self.page(after)
                except AccessLogUnavailable:
                    yield orjson.dumps({"error": {
                        "code": "ACCESS_LOG_UNAVAILABLE",
                        "message": "The access log cannot be written, so the export stops here",
                        "requestId": self.request_id}}) + b"\n"
                    return
                if chunk:
                    yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.uow.close()


async def audience_export(request: Request) -> Response:
    services = services_of(request)
    principal = principal_of(request)
    if principal is None:
        return unauthorized("missing_token")
    if principal.role != "client":
        return _error(403, "FORBIDDEN", "Not allowed for this principal")
    key = request.path_params["purpose"]
    purpose = services.policy.purposes.get(key)
    if purpose is None or key not in principal.purposes:
        return _error(403, "PURPOSE_NOT_PERMITTED",
                      f"This client may not act for purpose {key}")
    attributes = _fields(request.query_params.get("fields"),
                         services.policy.attributes_of(purpose.key))
    if isinstance(attributes, Response):
        return attributes
    # The registration may have narrowed since the token was issued: check both.
    if not await run_in_threadpool(services.registrations.may_declare, principal.client_id,
                                   purpose.key):
        return _error(403, "PURPOSE_NOT_PERMITTED", f"This client may not act for purpose {key}")
    export = _Export(services, principal, purpose, attributes, current_request_id())
    try:
        first, after = await run_in_threadpool(export.page, None)
    except AccessLogUnavailable:
        export.close()
        return _error(503, "ACCESS_LOG_UNAVAILABLE",
                      "The access log cannot be written, so no data is returned")
    except BaseException:
        export.close()
        raise
    return StreamingResponse(export.lines(first, after), media_type=MEDIA_TYPE,
                             headers=NO_STORE)
