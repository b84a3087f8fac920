"""The privacy centre: members' pages, server-rendered under ``/privacy``.

One module per page group (sign-in, profile, consents, access log, requests, receipts);
each handler parses the form, calls one use case and renders the result. The mount's
middleware gives every page its headers (``no-store``, CSP), the session cookie, CSRF
protection of every POST and the GPC signal. See docs/privacy-centre.md.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from membervault.web import (
    access_log,
    consents,
    language_choice,
    profile,
    receipts,
    requests,
    sessions,
    sign_in,
)
from membervault.web.csrf import CsrfGuard
from membervault.web.gpc import GpcSignal
from membervault.web.headers import PageHeaders
from membervault.web.pages import ROOT

STATIC = Path(__file__).resolve().parent / "static"


def privacy_centre(session_secret: bytes, *, https: bool) -> Mount:
    return Mount(ROOT, routes=[
        Route("/", sign_in.start, methods=["GET"]),
        Route("/sign-in", sign_in.send_code, methods=["POST"]),
        Route("/sign-in/code", sign_in.check_code, methods=["POST"]),
        Route("/sign-out", sign_in.sign_out, methods=["POST"]),
        Route("/language", language_choice.choose, methods=["POST"]),
        Route("/profile", profile.show, methods=["GET"]),
        Route("/profile", profile.save, methods=["POST"]),
        Route("/profile/edit", profile.edit, methods=["GET"]),
        Route("/consents", consents.show, methods=["GET"]),
        Route("/consents", consents.change, methods=["POST"]),
        Route("/access-log", access_log.show, methods=["GET"]),
        Route("/requests", requests.show, methods=["GET"]),
        Route("/requests", requests.open_request, methods=["POST"]),
        Route("/requests/lift-restriction", requests.lift_restriction, methods=["POST"]),
        Route("/requests/{request_id}/export", requests.download, methods=["GET"]),
        Route("/receipts", receipts.show_all, methods=["GET"]),
        Route("/receipts/{receipt_id}", receipts.show, methods=["GET"]),
        Route("/receipts/{receipt_id}/receipt.json", receipts.download, methods=["GET"]),
        Route("/receipts/{receipt_id}/receipt.jws", receipts.download, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], middleware=[
        Middleware(PageHeaders),
        sessions.session_middleware(session_secret, https=https),
        Middleware(CsrfGuard),
        Middleware(GpcSignal),
    ])
