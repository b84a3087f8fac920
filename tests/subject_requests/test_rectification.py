"""Rectification requests: the member's corrections are applied and announced; officers only track them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from outbox.models import Delivery, OutboxEvent
from tests.conftest import Api
from tests.subject_requests.support import OPEN, OPEN_FOR


def test_a_rectification_request_applies_and_notifies_recipients(
        jane_api: Api, services: Any, http: Any) -> None:
    with services.db.unit_of_work() as uow:
        from identity.models import Client

        client = uow.session.get(Client, "loyalty-engine")
        assert client is not None
        client.webhook_url = "http://127.0.0.1:9/hook"  # recipients are clients with a webhook
        uow.commit()
    payload = jane_api.graphql(OPEN, {"input": {"type": "RECTIFICATION",
                                                "corrections": {"familyName": "Varga"}}})
    assert payload["data"]["openMyRequest"]["request"]["state"] == "COMPLETED"
    assert jane_api.graphql("{ me { familyName } }")["data"]["me"]["familyName"] == "Varga"
    with services.db.unit_of_work() as uow:
        event = uow.session.scalars(select(OutboxEvent)
                                    .where(OutboxEvent.type == "member.rectified")).one()
        deliveries = uow.session.scalars(select(Delivery)
                                         .where(Delivery.event_id == event.id)).all()
    assert event.facts == {"fields": ["family_name"]}
    assert [d.client_id for d in deliveries] == ["loyalty-engine"]


def test_an_invalid_correction_changes_nothing(jane_api: Api) -> None:
    payload = jane_api.graphql(OPEN, {"input": {"type": "RECTIFICATION",
                                                "corrections": {"email": "nope"}}})
    assert payload["data"]["openMyRequest"]["errors"] == [{"field": "email",
                                                           "code": "INVALID_EMAIL"}]
    assert jane_api.graphql("{ myRequests { items { id } } }")["data"]["myRequests"]["items"] == []


def test_an_officer_cannot_write_a_members_values(officer: Api, jane: dict[str, Any],
                                                  jane_api: Api) -> None:
    result = officer.graphql(OPEN_FOR, {"m": jane["id"], "v": "phone call", "input": {
        "type": "RECTIFICATION", "corrections": {"email": "officer@evil.example"}}})
    assert result["data"]["openRequestFor"]["errors"] == [
        {"field": "corrections", "code": "CORRECTIONS_BY_MEMBER_ONLY"}]
    assert jane_api.graphql("{ me { email } }")["data"]["me"]["email"] == jane["email"]


def test_officers_track_rectification_and_cannot_open_for_nobody(officer: Api,
                                                                 jane: dict[str, Any]) -> None:
    tracked = officer.graphql(OPEN_FOR, {"m": jane["id"], "v": "video call",
                                         "input": {"type": "RECTIFICATION"}})
    assert tracked["data"]["openRequestFor"]["request"]["state"] == "IN_PROGRESS"
    nobody = officer.graphql(OPEN_FOR, {"m": str(uuid.uuid4()), "v": "video call",
                                        "input": {"type": "ACCESS"}})
    assert nobody["data"]["openRequestFor"]["errors"] == [{"field": "memberId",
                                                           "code": "MEMBER_NOT_FOUND"}]
