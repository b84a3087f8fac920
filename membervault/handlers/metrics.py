"""``/metrics``: Prometheus's text format, behind its own bearer token.

Closed unless ``MEMBERVAULT_METRICS_TOKEN`` is set (404, as if there were no such path);
a request without that exact token gets 401. The token is not an OAuth2 token: scrapers
are not principals and read no member data, and a leaked scrape token opens nothing
else (docs/operations.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from membervault.handlers import services_of
from membervault.observability.backlog import Backlog
from membervault.observability.metrics import exposition
from membervault.observability.worker_metrics import files_of_workers


def metrics_endpoint(token: str, directory: str = "") -> Callable[[Request], Awaitable[Response]]:
    """``directory``: where the background workers write their metrics (``worker/`` in
    ``MEMBERVAULT_METRICS_DIR``), added to this process's."""
    expected = token.encode()

    async def metrics(request: Request) -> Response:
        if not expected:
            return JSONResponse({"error": "not_found"}, status_code=404)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 expected):
            return JSONResponse({"error": "unauthorized"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        services = services_of(request)
        body = await run_in_threadpool(exposition, Backlog(services.db, services.clock),
                                       *files_of_workers(directory))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
