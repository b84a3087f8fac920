"""``/graphql``'s worker threads outlive the request, whatever runs the app: an in-process
caller that runs each request in an event loop of its own (bench/asgi.py does) reuses
them instead of starting one per request."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import httpx

from membervault.threads import RequestThreads


def test_each_request_in_its_own_event_loop_reuses_the_same_thread(app: Any) -> None:
    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1:8000") as client:
            return await client.post("/graphql", json={"query": "{ __typename }"})

    # Other tests' apps may still have threads of the same name ending: only count threads
    # started here.
    before = set(threading.enumerate())
    seen: set[threading.Thread] = set()
    for _ in range(3):
        assert asyncio.run(ask()).json() == {"data": {"__typename": "Query"}}
        seen |= {t for t in threading.enumerate()
                 if t.name.startswith("graphql") and t not in before}
    assert len(seen) == 1


def test_the_callers_context_goes_into_the_thread() -> None:
    asked: contextvars.ContextVar[str] = contextvars.ContextVar("asked")
    threads = RequestThreads(2)

    async def call() -> tuple[str, str]:
        asked.set("request-7")
        return await threads.run(lambda: (asked.get(), threading.current_thread().name))

    try:
        value, thread = asyncio.run(call())
    finally:
        threads.close()
    assert value == "request-7" and thread.startswith("graphql")


def test_an_app_started_again_gets_threads_again(app: Any) -> None:
    from starlette.testclient import TestClient

    for _ in range(2):
        with TestClient(app, base_url="http://127.0.0.1:8000") as http:
            answer = http.post("/graphql", json={"query": "{ __typename }"})
            assert answer.json() == {"data": {"__typename": "Query"}}
