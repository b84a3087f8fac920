"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: the database
answers too)."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from membervault.handlers import services_of
from vaultkernel.request_id import current_request_id

log = logging.getLogger("membervault.app")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    not_ready = getattr(request.app.state, "not_ready", None)
    if not_ready is not None:  # found at start: a restart after the fix clears it
        return JSONResponse({"status": not_ready.code}, status_code=503)
    try:
        await run_in_threadpool(services_of(request).db.ping)
    except Exception:  # noqa: BLE001  (any failure means not ready)
        log.warning("database not reachable (request id %s)", current_request_id())
        return JSONResponse({"status": "database_unreachable"}, status_code=503)
    return JSONResponse({"status": "ready"})
