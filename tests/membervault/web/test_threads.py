"""The privacy centre's pages run in worker threads (membervault/web/pages.py): a page
waiting for the database holds its thread, not the event loop, so other pages are still
answered meanwhile."""

from __future__ import annotations

from typing import Any

import anyio
import httpx

from tests.locks import LockHolder, writes_seen
from tests.membervault.web.support import Visitor


def test_a_page_is_answered_while_a_consent_change_waits_for_a_lock(
        app: Any, services: Any, settings: Any, jane_web: Visitor) -> None:
    jane_web.get("/privacy/consents")  # the form's CSRF token
    holder = LockHolder(settings.database_url)
    answers: dict[str, httpx.Response] = {}

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000",
                                     cookies=dict(jane_web.http.cookies), timeout=30) as client:

            async def grant() -> None:
                answers["grant"] = await client.post("/privacy/consents", data={
                    "csrf": jane_web.token, "action": "grant", "purpose": "marketing.email",
                    "notice_version": "1"})

            async with anyio.create_task_group() as requests:
                requests.start_soon(grant)
                with anyio.fail_after(10):
                    await anyio.to_thread.run_sync(writing.wait, abandon_on_cancel=True)  # at the lock
                    answers["page"] = await client.get("/privacy/access-log")  # reads only
                assert "grant" not in answers  # still waiting for the lock meanwhile
                holder.release()

    try:
        with writes_seen(services.db.engine) as writing:
            anyio.run(scenario)
    finally:
        holder.close()
    assert answers["page"].status_code == 200
    assert answers["grant"].status_code == 303
