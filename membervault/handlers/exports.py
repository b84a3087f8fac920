"""``GET /exports/{token}`` (the ZIP) and ``/exports/{token}/signature`` (its JWS).

Only with the bearer token of the member the archive belongs to. Unknown, expired, erased
and someone else's archives get the same 404.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from audit.access_log import AccessLogUnavailable
from export import archive
from membervault.auth import NO_STORE, principal_of
from membervault.handlers import services_of
from membervault.services import Services
from vaultkernel.request_id import current_request_id

log = logging.getLogger("membervault.app")


async def export_download(request: Request) -> Response:
    services = services_of(request)
    principal = principal_of(request)
    if principal is None:
        return JSONResponse({"error": "invalid_token", "reason": "missing_token",
                             "requestId": current_request_id()}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer", **NO_STORE})
    member_id = principal.member_id if principal.role == "member" else None
    now = services.clock.now()
    found = await run_in_threadpool(_find, services, request.path_params["token"], member_id,
                                    now)
    if found is None:
        return JSONResponse({"error": "not_found"}, status_code=404, headers=NO_STORE)
    if request.url.path.endswith("/signature"):
        return Response(found.signature, media_type="application/jose", headers=NO_STORE)
    try:
        chunks = await run_in_threadpool(
            archive.open_download, services.db, services.exports, found, now=now,
            log=services.access_log.reader(principal.actor, current_request_id()))
    except AccessLogUnavailable:
        return JSONResponse({"error": "ACCESS_LOG_UNAVAILABLE",
                             "message": "The access log cannot be written, so no data is "
                             "returned", "requestId": current_request_id()}, status_code=503,
                            headers=NO_STORE)
    except archive.ArchiveUnavailable as exc:
        log.error("export download refused (request id %s): %s", current_request_id(), exc)
        return JSONResponse({"error": "archive_unavailable",
                             "requestId": current_request_id()}, status_code=500,
                            headers=NO_STORE)
    return StreamingResponse(chunks, media_type="application/zip", headers={
        **NO_STORE, "Content-Length": str(found.size), "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="{found.attachment_name}"'})


def _find(services: Services, token: str, member_id: uuid.UUID | None,
          now: dt.datetime) -> archive.Download | None:
    with services.db.unit_of_work() as uow:
        return archive.find_download(uow.session, services.exports, token, member_id, now=now)
