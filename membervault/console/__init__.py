"""The officer console: compliance officers' pages, server-rendered under ``/console``.

One module per page group (sign-in, requests, members, access log, deliveries,
records); each handler parses its input, calls one use case and renders the result. It
shares the privacy centre's layout, CSRF guard and headers (``membervault.web``), with
its own session cookie, templates and catalogue (Babel domain ``console``). Every page
but sign-in needs a signed-in officer (:mod:`.officers`). See docs/console.md.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from membervault.console import (
    access_log,
    deliveries,
    members,
    officers,
    records,
    rendering,
    requests,
    sign_in,
)
from membervault.web import sessions
from membervault.web.csrf import CsrfGuard
from membervault.web.headers import PageHeaders

STATIC = Path(__file__).resolve().parent / "static"


def officer_console(session_secret: bytes, *, https: bool) -> Mount:
    return Mount(officers.ROOT, routes=[
        Route("/", sign_in.start, methods=["GET"]),
        Route("/sign-in", sign_in.sign_in, methods=["POST"]),
        Route("/sign-out", sign_in.sign_out, methods=["POST"]),
        Route("/requests", requests.queue, methods=["GET"]),
        Route("/requests/{request_id}", requests.show, methods=["GET"]),
        Route("/requests/{request_id}/verify", requests.verify_identity, methods=["POST"]),
        Route("/requests/{request_id}/extend", requests.extend, methods=["POST"]),
        Route("/requests/{request_id}/deny", requests.deny, methods=["POST"]),
        Route("/requests/{request_id}/certificate", records.certificate, methods=["GET"]),
        Route("/members", members.find, methods=["GET"]),
        Route("/members", members.open_member, methods=["POST"]),
        Route("/members/{member_id}/consents", members.consent_history, methods=["GET"]),
        Route("/members/{member_id}/holds", members.legal_holds, methods=["GET"]),
        Route("/members/{member_id}/holds", members.place_hold, methods=["POST"]),
        Route("/holds/{hold_id}/lift", members.lift_hold, methods=["POST"]),
        Route("/receipts/{receipt_id}", members.receipt, methods=["GET"]),
        Route("/access-log", access_log.show, methods=["GET"]),
        Route("/access-log/verify", access_log.verify, methods=["GET"]),
        Route("/deliveries", deliveries.show, methods=["GET"]),
        Route("/deliveries/{delivery_id}/replay", deliveries.replay, methods=["POST"]),
        Route("/record-of-processing", records.record_of_processing, methods=["GET"]),
        Route("/retention", records.retention_schedule, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="console-static"),
    ], middleware=[
        Middleware(PageHeaders),
        sessions.session_middleware(session_secret, https=https, name="console",
                                    idle=officers.IDLE),
        Middleware(CsrfGuard, refuse=rendering.refused),
    ])
