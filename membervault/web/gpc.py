"""Global Privacy Control from the browser (``Sec-GPC: 1``): applied for a signed-in
member like ``/graphql`` does, recorded and opting them out of sale and sharing."""

from __future__ import annotations

import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from consent.service import apply_gpc_signal
from membervault.web import pages, sessions


class GpcSignal:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"sec-gpc", b"1") in scope["headers"]:
            request = Request(scope)
            member_id = sessions.member_of(request)
            if member_id is not None:
                await run_in_threadpool(_apply, request, member_id)
        await self.app(scope, receive, send)


def _apply(request: Request, member_id: uuid.UUID) -> None:
    services = pages.services_of(request)
    with services.db.unit_of_work() as uow:
        apply_gpc_signal(uow, services.policy, services.crypto, member_id,
                         actor=f"member:{member_id}", evidence=pages.evidence(request))
