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
first use and wait on the queue. Jobs given before ``close()`` still run; under uvicorn
the lifespan's shutdown (which closes) comes after every request finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import weakref
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
        # Taken by the event loop and close(), never by the threads: a job is never put
        # behind the marks that end them.
        self._lock = threading.Lock()
        self._end: weakref.finalize[Any, Any] | None = None  # set while threads run

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a thread, with the caller's context variables (the
        request id). A caller cancelled through anyio (as the server's requests are)
        waits for the thread to finish, as with anyio's ``run_sync``, so the limiter
        never counts fewer threads than are working."""
        async with anyio.to_thread.current_default_thread_limiter():
            loop = asyncio.get_running_loop()
            future: asyncio.Future[T] = loop.create_future()
            self._submit((contextvars.copy_context(), function, args, loop, future))
            with anyio.CancelScope(shield=True):
                result = await future
        return result

    def _submit(self, job: _Job) -> None:
        with self._lock:
            if self._end is None:
                for n in range(self.size):
                    threading.Thread(target=_work, args=(self._jobs,), name=f"graphql_{n}",
                                     daemon=True).start()
                # An app whose lifespan never ran (a test's client) never calls close():
                # its threads end when it is collected, as an executor's do.
                self._end = weakref.finalize(self, _end_threads, self._jobs, self.size)
            self._jobs.put(job)

    def close(self) -> None:
        """Lets the threads end once the work already given is done (at the app's
        shutdown, after the server finished every request); an app started again gets
        new ones."""
        with self._lock:
            self._jobs = SimpleQueue()
            if self._end is not None:
                self._end()
                self._end = None


def _end_threads(jobs: SimpleQueue[_Job | None], count: int) -> None:
    for _ in range(count):
        jobs.put(None)


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
        # Nothing of a request (nor its event loop) stays referenced by an idle thread.
        del job, context, function, args, loop, future, outcome


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():
        return
    succeeded, value = outcome
    if succeeded:
        future.set_result(value)
    elif isinstance(value, StopIteration):  # a future refuses it: the caller would hang
        error = RuntimeError("StopIteration raised in a request thread")
        error.__cause__ = value
        future.set_exception(error)
    else:
        future.set_exception(value)
