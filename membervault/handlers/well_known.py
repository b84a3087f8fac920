"""Published documents: the token signing keys (JWKS) and the GPC support statement."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from membervault.handlers import services_of


async def jwks(request: Request) -> Response:
    keys = await run_in_threadpool(services_of(request).signing_keys.jwks)  # may reload them
    return JSONResponse(keys,
                        headers={"Cache-Control": "public, max-age=300"})


async def gpc(request: Request) -> Response:
    return JSONResponse({"gpc": True, "lastUpdate": "2026-11-23"})
