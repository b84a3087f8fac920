"""The GraphQL side of deliveries: recipients acknowledge their own events; officers page
through deliveries (internal ids only) and replay them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select

from membervault.services import Services
from outbox.models import Delivery
from tests.conftest import Api, client_token, create_principal
from tests.outbox.support import (
    ACK,
    DELIVERIES,
    GRANT,
    MARKETING,
    RESTRICT,
    Clock,
    Receiver,
    deliveries,
    drain,
    ok,
    subscribe,
)

NOT_FOUND = {"acknowledgement": None, "errors": [{"field": "eventId", "code": "NOT_FOUND"}]}


def acknowledged(services: Services) -> dict[tuple[str, str], Any]:
    with services.db.unit_of_work() as uow:
        return {(str(d.event_id), d.client_id): d.acknowledged_at
                for d in uow.session.scalars(select(Delivery))}


def test_a_client_acknowledges_its_own_delivery_only_and_idempotently(
        services: Services, jane_api: Api, loyalty_api: Api, marketing_api: Api,
        receiver: Receiver, clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    subscribe(services, "loyalty-engine", receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})  # to email-marketing only
    ok(jane_api, RESTRICT)  # to both
    drain(services, clock)
    consent_event, restriction_event = (str(d.event_id) for d in deliveries(services)[:2])
    assert [d.client_id for d in deliveries(services)] == \
        ["email-marketing", "email-marketing", "loyalty-engine"]
    assert all(at is None for at in acknowledged(services).values())

    first = marketing_api.graphql(ACK, {"id": restriction_event})["data"]["acknowledgeEvent"]
    assert first["errors"] == []
    assert first["acknowledgement"]["eventId"] == restriction_event
    assert first["acknowledgement"]["eventType"] == "MEMBER_RESTRICTED"
    state = acknowledged(services)
    assert state[(restriction_event, "email-marketing")] is not None
    assert state[(restriction_event, "loyalty-engine")] is None, "another client's delivery"
    assert state[(consent_event, "email-marketing")] is None

    again = marketing_api.graphql(ACK, {"id": restriction_event})["data"]["acknowledgeEvent"]
    assert again == first, "acknowledging twice keeps the first time"

    # An event addressed to someone else, an unknown event, something not an id at all.
    for other in (consent_event, str(uuid.uuid4()), "not-an-event"):
        result = loyalty_api.graphql(ACK, {"id": other})
        assert result["data"]["acknowledgeEvent"] == NOT_FOUND
    assert acknowledged(services)[(consent_event, "email-marketing")] is None

    mine = loyalty_api.graphql(ACK, {"id": restriction_event})["data"]["acknowledgeEvent"]
    assert mine["errors"] == [] and mine["acknowledgement"]["acknowledgedAt"]
    assert acknowledged(services)[(restriction_event, "loyalty-engine")] is not None


def test_only_clients_acknowledge(http: Any, services: Services, jane_api: Api,
                                  officer_api: Api, marketing_api: Api, receiver: Receiver,
                                  clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    (delivery,) = deliveries(services)
    for api, code in ((jane_api, "FORBIDDEN"), (officer_api, "FORBIDDEN"),
                      (Api(http), "UNAUTHENTICATED")):
        result = api.graphql(ACK, {"id": str(delivery.event_id)})
        assert result["data"] is None
        assert [e["extensions"]["code"] for e in result["errors"]] == [code]
    assert acknowledged(services)[(str(delivery.event_id), "email-marketing")] is None


def test_officers_page_through_deliveries_by_state_and_client(
        http: Any, services: Services, jane: dict[str, Any], jane_api: Api, loyalty_api: Api,
        marketing_api: Api, officer_api: Api, receiver: Receiver, clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    subscribe(services, "loyalty-engine", receiver)
    for _ in range(2):
        ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
        ok(jane_api, "mutation($p: String!) { withdrawConsent(purpose: $p) { errors { code } } }",
           {"p": MARKETING})
        ok(jane_api, RESTRICT)
        ok(jane_api, "mutation { liftMyRestriction { errors { code } } }")
    total = len(deliveries(services))
    assert total == 12  # 4 consent changes to one client, 4 restriction changes to two
    marketing_acknowledges = str(deliveries(services)[0].event_id)
    ok(marketing_api, ACK, {"id": marketing_acknowledges})

    def pages(**filters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after = None
        for _ in range(20):
            result = officer_api.graphql(DELIVERIES, {**filters, "first": 5, "after": after})
            assert "errors" not in result, result
            page = result["data"]["deliveries"]
            assert len(page["items"]) <= 5
            items += page["items"]
            after = page["nextCursor"]
            if after is None:
                return items
        raise AssertionError("too many pages")

    everything = pages()
    ids = [int(i["id"]) for i in everything]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == total, "newest first, once"
    assert {i["memberId"] for i in everything} == {jane["id"]}
    assert {i["state"] for i in everything} == {"PENDING"}
    assert jane["memberNumber"] not in json.dumps(everything)
    assert [i["acknowledgedAt"] is not None for i in everything].count(True) == 1
    assert {i["clientId"] for i in pages(client="loyalty-engine")} == {"loyalty-engine"}
    assert len(pages(client="loyalty-engine")) == 4
    assert len(pages(client="email-marketing", state="PENDING")) == 8

    drain(services, clock)
    assert pages(state="PENDING") == []
    delivered = pages(state="DELIVERED")
    assert len(delivered) == total
    assert all(i["deliveredAt"] and i["attempts"] == 1 and i["lastStatus"] == "HTTP 204"
               for i in delivered)

    refused = officer_api.graphql(DELIVERIES, {"state": "LOST", "first": 5})
    (error,) = refused["errors"]  # not a DeliveryState: GraphQL's own validation refuses it
    assert "DeliveryState" in error["message"] and "extensions" not in error
    refused = officer_api.graphql(DELIVERIES, {"first": 0})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["INVALID_PAGE_SIZE"]
    cursor = officer_api.graphql(DELIVERIES, {"first": 5})["data"]["deliveries"]["nextCursor"]
    other = Api(http, client_token(http, "other-officer",
                                   create_principal(services, "other-officer", "officer")))
    refused = other.graphql(DELIVERIES, {"first": 5, "after": cursor})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["INVALID_CURSOR"]
