"""Calling the real ASGI app in process, without a network or an HTTP client library in
between: the request goes through the same middleware, routing, authentication, GraphQL
view and response encoding as under uvicorn; only the socket is missing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def json(self) -> Any:
        return orjson.loads(self.body)


def http_scope(method: str, path: str, headers: dict[str, str],
               query: str = "") -> dict[str, Any]:
    """An HTTP scope as uvicorn gives it (ASGI 2.3), from 127.0.0.1 to 127.0.0.1:8000."""
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                   for k, v in headers.items()]
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": method, "scheme": "http", "path": path,
            "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [*raw_headers, (b"host", b"127.0.0.1:8000")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}


class InProcess:
    """A tiny ASGI client bound to one event loop (reused for every call)."""

    def __init__(self, app: Any):
        self.app = app
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.close()

    def request(self, method: str, path: str, *, body: bytes = b"",
                headers: dict[str, str] | None = None, query: str = "",
                on_chunk: Callable[[bytes], None] | None = None) -> Response:
        return self.loop.run_until_complete(
            self._call(method, path, body, headers or {}, query, on_chunk))

    def graphql(self, query: str, variables: dict[str, Any], token: str) -> Response:
        body = orjson.dumps({"query": query, "variables": variables})
        return self.request("POST", "/graphql", body=body,
                            headers={"authorization": f"Bearer {token}",
                                     "content-type": "application/json"})

    async def _call(self, method: str, path: str, body: bytes, headers: dict[str, str],
                    query: str, on_chunk: Callable[[bytes], None] | None) -> Response:
        scope = http_scope(method, path, {**headers, "content-length": str(len(body))},
                           query)
        finished = asyncio.Event()
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        response = Response(status=0, headers=[])

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.status = message["status"]
                response.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if chunk:
                    if on_chunk is not None:
                        on_chunk(chunk)
                    else:
                        response.chunks.append(chunk)
                if not message.get("more_body", False):
                    finished.set()

        try:
            await self.app(scope, receive, send)
        finally:
            finished.set()
        return response
