"""``/graphql`` executes each operation in a worker thread (membervault/handlers/graphql.py):
a request waiting for the database holds its thread, not the event loop, so the others
are still answered; the request's context (its id) goes with it into the thread."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from sqlalchemy import select

from consent.models import Consent
from identity.models import Member
from tests.conftest import Api
from tests.locks import LockHolder, writes_seen

GRANT = """mutation { grantConsent(purpose: "marketing.email", noticeVersion: 1) {
  consents { purpose status } errors { code } } }"""
ME = "{ me { id email } }"


def test_health_is_answered_while_a_graphql_write_waits_for_a_lock(
        app: Any, services: Any, settings: Any, jane: dict[str, Any], jane_api: Api) -> None:
    holder = LockHolder(settings.database_url)
    answers: dict[str, httpx.Response] = {}

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000",
                                     timeout=30) as client:

            async def grant() -> None:
                answers["grant"] = await client.post(
                    "/graphql", json={"query": GRANT},
                    headers={"authorization": f"Bearer {jane_api.token}"})

            async with anyio.create_task_group() as requests:
                requests.start_soon(grant)
                with anyio.fail_after(10):
                    await anyio.to_thread.run_sync(writing.wait)  # the grant is at the lock
                    answers["health"] = await client.get("/healthz")
                assert "grant" not in answers  # still waiting for the lock meanwhile
                holder.release()  # the grant goes on

    try:
        with writes_seen(services.db.engine) as writing:
            anyio.run(scenario)
    finally:
        holder.close()
    assert answers["health"].status_code == 200
    payload = answers["grant"].json()["data"]["grantConsent"]
    assert payload["errors"] == []
    with services.db.unit_of_work() as uow:
        assert uow.session.scalar(select(Consent.granted).where(
            Consent.member_id == uow.session.scalars(select(Member.id)).one(),
            Consent.purpose == "marketing.email")) is True


def test_a_masked_error_names_the_request_id_the_caller_sent(
        services: Any, jane: dict[str, Any], jane_api: Api) -> None:
    """The masking runs in the worker thread, with the request's own id."""
    with services.db.unit_of_work() as uow:
        row = uow.session.scalars(select(Member)).one()
        row.email = (row.email or b"")[:-1] + b"\x00"  # no longer decrypts
        uow.commit()
    result = jane_api.graphql(ME, **{"x-request-id": "trace-7f3a-4411"})
    error = result["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "trace-7f3a-4411"}
    assert "trace-7f3a-4411" in error["message"]
