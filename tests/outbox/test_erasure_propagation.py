"""The whole propagation of an erasure (GDPR Art. 17 and 19) through the outbox: the member
asks, the worker erases, each recipient receives a signed ``member.erased`` webhook (one of
them down for a while), acknowledges it through the API, and only then is the request
completed; the sealed member number is dropped at the end."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from membervault.services import Services
from outbox.models import OutboxEvent
from subject_requests.erasure import complete_acknowledged, erase_pending
from subject_requests.models import DataSubjectRequest
from tests.conftest import Api
from tests.outbox.support import (
    ACK,
    GRANT,
    MARKETING,
    Clock,
    Receiver,
    deliveries,
    drain,
    ok,
    subscribe,
)

OPEN_ERASURE = """mutation { openMyRequest(input: {type: ERASURE}) {
  request { id state } errors { code } } }"""


def test_erasure_reaches_every_recipient_and_completes_after_their_acknowledgements(
        services: Services, jane: dict[str, Any], jane_api: Api, loyalty_api: Api,
        marketing_api: Api, receiver: Receiver, clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    subscribe(services, "loyalty-engine", receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    opened = jane_api.graphql(OPEN_ERASURE)["data"]["openMyRequest"]
    assert opened["errors"] == [], opened
    request_id = opened["request"]["id"]

    assert erase_pending(services.db, services.erasure_kit, now=clock.now) == 1
    with services.db.unit_of_work() as uow:
        (erased,) = uow.session.scalars(select(OutboxEvent)
                                        .where(OutboxEvent.type == "member.erased"))
    assert erased.sealed_member_number is not None
    receiver.failures = ["500", "drop", "500"]  # a recipient down for a while
    drain(services, clock)
    arrived = {item.webhook_id: item.body for item in receiver.unique().values()
               if item.body["type"] == "member.erased"}
    assert set(arrived) == {f"{erased.id}:email-marketing", f"{erased.id}:loyalty-engine"}
    for body in arrived.values():
        assert body["data"]["memberNumber"] == jane["memberNumber"]
        assert body["data"]["eventId"] == str(erased.id)
    assert receiver.rejected == []

    # Delivered is not enough: the request waits for the acknowledgements.
    assert complete_acknowledged(services.db, now=clock.now) == 0
    ok(marketing_api, ACK, {"id": str(erased.id)})
    assert complete_acknowledged(services.db, now=clock.now) == 0
    ok(loyalty_api, ACK, {"id": str(erased.id)})
    assert complete_acknowledged(services.db, now=clock.now) == 1

    with services.db.unit_of_work() as uow:
        event = uow.session.get_one(OutboxEvent, erased.id)
        assert event.sealed_member_number is None, "the sealed number outlived its use"
        request = uow.session.get_one(DataSubjectRequest, uuid.UUID(request_id))
        assert request.state == "completed"
    assert {d.state for d in deliveries(services)} == {"delivered"}
