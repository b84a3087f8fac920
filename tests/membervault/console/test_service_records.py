"""The console's views of the service's own records: the access log with filters and the
verify result, deliveries with replay, erasure certificates, the record of processing,
the retention schedule and the last sweep."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from membervault.services import Services
from outbox.delivery import deliver_due
from outbox.models import Delivery
from outbox.subscriptions import remove_webhook, set_webhook
from retention.sweeper import sweep
from subject_requests.erasure import erase_pending
from tests.conftest import Api, create_principal
from tests.membervault.console.conftest import open_request
from tests.membervault.console.support import Officer
from tests.membervault.web.support import Visitor


def test_the_access_log_lists_reads_and_filters_them(officer_web: Officer,
                                                     loyalty_api: Api,
                                                     jane: dict[str, Any]) -> None:
    loyalty_api.graphql("""query($n: String!) { memberData(purpose: "loyalty.membership",
        memberNumber: $n) { email } }""", {"n": jane["memberNumber"]})
    page = officer_web.get("/console/access-log").text
    assert "client:loyalty-engine" in page and jane["id"] in page
    assert jane["email"] not in page
    by_reader = officer_web.get("/console/access-log?principal=client:loyalty-engine").text
    assert jane["id"] in by_reader
    other = officer_web.get("/console/access-log?principal=client:nobody").text
    assert "No read matches." in other
    future = officer_web.get("/console/access-log?since=2999-01-01").text
    assert "No read matches." in future


def test_the_hash_chain_is_verified(officer_web: Officer, loyalty_api: Api,
                                    jane: dict[str, Any]) -> None:
    page = officer_web.get("/console/access-log/verify").text
    assert "Intact:" in page and "entries checked" in page


def test_a_dead_delivery_is_replayed(officer_web: Officer, services: Services,
                                     jane_web: Visitor) -> None:
    create_principal(services, "email-marketing", purposes=("marketing.email",))
    with services.db.unit_of_work() as uow:
        set_webhook(uow.session, services.keyring, "email-marketing",
                    "https://hooks.example.com/membervault", production=False, actor="test")
        uow.commit()
    jane_web.post("/privacy/consents", {"action": "grant", "purpose": "marketing.email",
                                        "notice_version": "1"})
    with services.db.unit_of_work() as uow:
        remove_webhook(uow.session, "email-marketing", actor="test")
        uow.commit()
    deliver_due(services.db, services.courier, now=services.clock.now())
    page = officer_web.get("/console/deliveries").text
    assert "email-marketing" in page and "NO_WEBHOOK" in page
    with services.db.unit_of_work() as uow:
        (dead,) = uow.session.scalars(select(Delivery)).all()
    answer = officer_web.post(f"/console/deliveries/{dead.id}/replay")
    assert "The delivery is queued again." in officer_web.follow(answer).text
    with services.db.unit_of_work() as uow:
        assert uow.session.get_one(Delivery, dead.id).state == "pending"
    assert officer_web.post("/console/deliveries/999999/replay").status_code == 404


def test_an_erasure_certificate_once_the_member_is_erased(officer_web: Officer,
                                                          services: Services,
                                                          jane: dict[str, Any]) -> None:
    request_id = open_request(services, jane["id"], "erasure")
    early = officer_web.get(f"/console/requests/{request_id}/certificate").text
    assert "There is no certificate yet" in early
    assert erase_pending(services.db, services.erasure_kit, now=services.clock.now()) == 1
    page = officer_web.get(f"/console/requests/{request_id}").text
    assert "Acknowledgements" in page
    certificate = officer_web.get(f"/console/requests/{request_id}/certificate")
    assert certificate.status_code == 200 and str(request_id) in certificate.text
    assert "eyJ" in certificate.text  # the compact JWS
    assert officer_web.get(f"/console/requests/{uuid.uuid4()}/certificate").status_code == 404


def test_the_record_of_processing(officer_web: Officer, loyalty_api: Api) -> None:
    page = officer_web.get("/console/record-of-processing").text
    assert "Processing activities" in page and "loyalty.membership" in page
    assert "loyalty-engine" in page


def test_the_retention_schedule_and_the_last_sweep(officer_web: Officer,
                                                   services: Services) -> None:
    page = officer_web.get("/console/retention").text
    assert "No full sweep has run yet." in page
    for rule in services.policy.retention:
        assert rule in page
    sweep(services.db, services.sweep_kit, now=services.clock.now())
    assert "Ran at" in officer_web.get("/console/retention").text
