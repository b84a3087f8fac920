"""Members and officers work data subject requests through the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from outbox.models import Delivery, OutboxEvent
from tests.conftest import Api, client_token, create_principal

OPEN = """mutation($input: OpenRequestInput!) { openMyRequest(input: $input) {
  request { id type state dueAt overdue transitions { fromState toState actor reason } }
  errors { field code } } }"""
MY_STATUS = "{ myProcessingStatus { restricted objectedPurposes } }"


def officer(http: Any, services: Any) -> Api:
    return Api(http, client_token(http, "officer-ola", create_principal(services, "officer-ola",
                                                                         "officer")))


def test_a_member_restricts_processing_by_request(jane_api: Api) -> None:
    payload = jane_api.graphql(OPEN, {"input": {"type": "RESTRICTION"}})["data"]["openMyRequest"]
    assert payload["errors"] == []
    assert payload["request"]["state"] == "COMPLETED"
    assert [t["toState"] for t in payload["request"]["transitions"]] == [
        "RECEIVED", "IN_PROGRESS", "COMPLETED"]
    assert jane_api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["restricted"] is True


def test_an_objection_request_names_its_purpose(jane_api: Api) -> None:
    missing = jane_api.graphql(OPEN, {"input": {"type": "OBJECTION"}})["data"]["openMyRequest"]
    assert missing["errors"] == [{"field": "purpose", "code": "PURPOSE_REQUIRED"}]
    done = jane_api.graphql(OPEN, {"input": {"type": "OBJECTION",
                                             "purpose": "analytics.segmentation"}})
    assert done["data"]["openMyRequest"]["request"]["state"] == "COMPLETED"
    assert jane_api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["objectedPurposes"] == [
        "analytics.segmentation"]


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
    assert jane_api.graphql("{ myRequests { id } }")["data"]["myRequests"] == []


def test_an_access_request_waits_for_the_worker_and_duplicates_are_refused(
        jane_api: Api) -> None:
    first = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert first["request"]["state"] == "IN_PROGRESS"
    assert first["request"]["overdue"] is False
    again = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert again["errors"] == [{"field": None, "code": "DUPLICATE"}]
    mine = jane_api.graphql("{ myRequests { type state } }")["data"]["myRequests"]
    assert mine == [{"type": "ACCESS", "state": "IN_PROGRESS"}]


def test_officers_open_verify_extend_and_deny(http: Any, services: Any, jane: dict[str, Any],
                                              jane_api: Api) -> None:
    api = officer(http, services)
    opened = api.graphql(
        """mutation($m: ID!) { openRequestFor(memberId: $m, input: {type: ERASURE,
             jurisdiction: "CCPA"}) { request { id state } errors { code } } }""",
        {"m": jane["id"]})["data"]["openRequestFor"]
    assert opened["request"]["state"] == "IDENTITY_VERIFICATION"
    request_id = opened["request"]["id"]
    listed = api.graphql('{ requests(state: IDENTITY_VERIFICATION) { id } }')
    assert listed["data"]["requests"] == [{"id": request_id}]
    verified = api.graphql(
        """mutation($id: ID!) { verifyRequestIdentity(requestId: $id, method: "photo id in store")
           { request { state identityVerification } } }""", {"id": request_id})
    assert verified["data"]["verifyRequestIdentity"]["request"] == {
        "state": "IN_PROGRESS", "identityVerification": "photo id in store"}
    extended = api.graphql(
        """mutation($id: ID!) { extendRequest(requestId: $id, reason: "records in 3 systems")
           { request { state extended extensionReason } } }""", {"id": request_id})
    assert extended["data"]["extendRequest"]["request"]["extended"] is True
    denied = api.graphql(
        """mutation($id: ID!) { denyRequest(requestId: $id, code: "LEGAL_CLAIMS",
           reason: "pending court case") { request { state denialCode } errors { code } } }""",
        {"id": request_id})
    assert denied["data"]["denyRequest"]["request"] == {"state": "DENIED",
                                                        "denialCode": "LEGAL_CLAIMS"}
    # The member sees the request, its reasons and every transition.
    mine = jane_api.graphql("{ myRequests { state denialReason transitions { toState } } }")
    assert mine["data"]["myRequests"][0]["denialReason"] == "pending court case"
    assert [t["toState"] for t in mine["data"]["myRequests"][0]["transitions"]] == [
        "RECEIVED", "IDENTITY_VERIFICATION", "IN_PROGRESS", "EXTENDED", "DENIED"]
