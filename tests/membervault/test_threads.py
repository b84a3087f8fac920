"""``/graphql``'s worker threads outlive the request, whatever runs the app: an in-process
caller that runs each request in an event loop of its own (bench/asgi.py does) reuses
them instead of starting one per request."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import httpx
import pytest

from membervault.app import REQUEST_THREADS
from membervault.threads import RequestThreads


def test_each_request_in_its_own_event_loop_reuses_the_same_threads(app: Any) -> None:
    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1:8000") as client:
            return await client.post("/graphql", json={"query": "{ __typename }"})

    # Other tests' apps may still have threads of the same name ending: only count threads
    # started here. The first request starts the app's threads; later ones start none.
    before = set(threading.enumerate())
    started: list[set[threading.Thread]] = []
    for _ in range(4):
        assert asyncio.run(ask()).json() == {"data": {"__typename": "Query"}}
        started.append({t for t in threading.enumerate()
                        if t.name.startswith("graphql") and t not in before})
    assert 1 <= len(started[0]) <= REQUEST_THREADS
    assert all(now == started[0] for now in started[1:])


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


def test_an_error_in_the_thread_reaches_the_caller_and_the_thread_goes_on() -> None:
    threads = RequestThreads(1)

    def fail() -> None:
        raise LookupError("no such thing")

    async def call() -> str:
        try:
            await threads.run(fail)
        except LookupError as exc:
            caught = str(exc)
        return caught + " / " + await threads.run(lambda: "still serving")

    try:
        assert asyncio.run(call()) == "no such thing / still serving"
    finally:
        threads.close()


def test_closing_lets_the_threads_end() -> None:
    threads = RequestThreads(3)
    before = set(threading.enumerate())

    async def call() -> int:
        return await threads.run(lambda: 7)

    assert asyncio.run(call()) == 7
    mine = {t for t in threading.enumerate() if t not in before}
    assert len(mine) == 3
    threads.close()
    for thread in mine:
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert asyncio.run(call()) == 7  # started again on the next use
    threads.close()


def test_threads_of_an_app_never_closed_end_when_it_is_collected() -> None:
    """A test client that never runs the app's lifespan never calls close(): the threads
    must not outlive the dropped RequestThreads (as an executor's would not)."""
    import gc

    before = set(threading.enumerate())
    threads = RequestThreads(3)
    assert asyncio.run(_seven(threads)) == 7
    mine = {t for t in threading.enumerate() if t not in before}
    assert len(mine) == 3
    del threads
    gc.collect()
    for thread in mine:
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_a_stopiteration_in_the_thread_reaches_the_caller_as_an_error() -> None:
    threads = RequestThreads(1)

    def stop() -> None:
        raise StopIteration

    async def call() -> None:
        await threads.run(stop)

    try:
        with pytest.raises(RuntimeError, match="StopIteration"):
            asyncio.run(asyncio.wait_for(call(), timeout=10))
    finally:
        threads.close()


async def _seven(threads: RequestThreads) -> int:
    return await threads.run(lambda: 7)
