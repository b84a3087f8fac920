"""The privacy centre's pages run in worker threads (membervault/web/pages.py): a page
waiting for the database holds its thread, not the event loop, so other pages are still
answered meanwhile."""

from __future__ import annotations

from typing import Any

from tests.locks import LockHolder, answered_while_waiting
from tests.membervault.web.support import Visitor


def test_a_page_is_answered_while_a_consent_change_waits_for_a_lock(
        app: Any, services: Any, settings: Any, jane_web: Visitor) -> None:
    jane_web.get("/privacy/consents")  # the form's CSRF token
    grant, page = answered_while_waiting(
        app, services.db.engine, LockHolder(settings.database_url),
        lambda client: client.post("/privacy/consents", data={
            "csrf": jane_web.token, "action": "grant", "purpose": "marketing.email",
            "notice_version": "1"}),
        lambda client: client.get("/privacy/access-log"),  # reads only
        cookies=dict(jane_web.http.cookies))
    assert page.status_code == 200
    assert grant.status_code == 303
