"""The worker threads ``/graphql`` runs its operations in, kept for the life of the app.

anyio's worker threads (``run_in_threadpool``) stop when the task that started the event
loop ends. Under uvicorn that task is the server's, so they are reused; an in-process call
of the app (``bench/asgi.py``: one ``run_until_complete`` per request) started and stopped
a thread for every request, ~300 us of CPU. These threads stay, whatever runs the app.
How many requests are in threads at once is still bounded by anyio's limiter, the one
every other handler's threads take from (``membervault.app.REQUEST_THREADS``).

The hand-off is one queue, not a ``ThreadPoolExecutor``: the executor's idle-thread
semaphore is a Python-level lock that the event loop and a finishing worker take on every
request, and a worker pre-empted while holding it stalled the loop's next submission for
0.5-2 ms (12% of requests in B10; docs/performance.md). The threads start together on
first use and wait on the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")

_Job = tuple[contextvars.Context, Callable[..., Any], tuple[Any, ...],
             asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class RequestThreads:
    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._started = False
        self._starting = threading.Lock()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a thread, with the caller's context variables (the
        request id). Like anyio's ``run_sync``, a cancelled caller waits for the thread to
        finish, so the limiter never counts fewer threads than are working."""
        async with anyio.to_thread.current_default_thread_limiter():
            if not self._started:
                self._start()
            loop = asyncio.get_running_loop()
            future: asyncio.Future[T] = loop.create_future()
            self._jobs.put((contextvars.copy_context(), function, args, loop, future))
            with anyio.CancelScope(shield=True):
                result = await future
        return result

    def _start(self) -> None:
        with self._starting:
            if self._started:
                return
            for n in range(self.size):
                threading.Thread(target=_work, args=(self._jobs,), name=f"graphql_{n}",
                                 daemon=True).start()
            self._started = True

    def close(self) -> None:
        """Lets the threads end once the work already given is done (at the app's
        shutdown); an app started again gets new ones."""
        with self._starting:
            jobs, self._jobs = self._jobs, SimpleQueue()
            if self._started:
                for _ in range(self.size):
                    jobs.put(None)
            self._started = False


def _work(jobs: SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        context, function, args, loop, future = job
        try:
            outcome: tuple[bool, Any] = (True, context.run(function, *args))
        except BaseException as exc:  # noqa: BLE001  (handed to the caller, as an executor does)
            outcome = (False, exc)
        # The caller's event loop closed: nobody is waiting for the answer.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, outcome)
        del job, context, function, args, future, outcome  # nothing of a request stays here


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():
        return
    succeeded, value = outcome
    if succeeded:
        future.set_result(value)
    else:
        future.set_exception(value)
