"""The worker threads ``/graphql`` runs its operations in, kept for the life of the app.

anyio's worker threads (``run_in_threadpool``) stop when the task that started the event
loop ends. Under uvicorn that task is the server's, so they are reused; an in-process call
of the app (``bench/asgi.py``: one ``run_until_complete`` per request) started and stopped
a thread for every request, ~300 us of CPU. These threads stay, whatever runs the app.
How many requests are in threads at once is still bounded by anyio's limiter, the one
every other handler's threads take from (``membervault.app.REQUEST_THREADS``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class RequestThreads:
    def __init__(self, size: int) -> None:
        self.size = size
        self.pool = self._new_pool()

    def _new_pool(self) -> ThreadPoolExecutor:
        # Threads start when first needed, one more only while all are busy.
        return ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="graphql")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a thread, with the caller's context variables (the
        request id). Like anyio's ``run_sync``, a cancelled caller waits for the thread to
        finish, so the limiter never counts fewer threads than are working."""
        async with anyio.to_thread.current_default_thread_limiter():
            call = contextvars.copy_context().run
            future = asyncio.get_running_loop().run_in_executor(self.pool, call, function,
                                                                *args)
            with anyio.CancelScope(shield=True):
                result = await future
        return result

    def close(self) -> None:
        """Lets the threads end (at the app's shutdown); an app started again gets new ones."""
        pool, self.pool = self.pool, self._new_pool()
        pool.shutdown(wait=False, cancel_futures=True)
