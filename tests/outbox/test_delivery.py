"""Webhook delivery against a real receiver on loopback: signed, at least once, nothing lost,
no duplicate in effect, back-off then dead, replay, and never a personal value in the logs."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from identity.models import Member
from membervault.services import Services
from outbox import delivery as delivery_module
from outbox.delivery import BACKOFF_BASE, BACKOFF_CAP, JITTER, LEASE, deliver_due, retry_delay
from outbox.models import Delivery, OutboxEvent
from outbox.secrets import seal_member_number
from outbox.subscriptions import remove_webhook
from outbox.webhooks import new_secret
from outbox.writer import emit
from tests.conftest import BACKEND, Api, create_principal
from tests.outbox.support import (
    DELIVERIES,
    GRANT,
    LIFT,
    MARKETING,
    REPLAY,
    RESTRICT,
    UPDATE_PROFILE,
    WITHDRAW,
    Clock,
    Receiver,
    deliveries,
    drain,
    ok,
    pending_count,
    running_receiver,
    subscribe,
)


def member_changes(jane_api: Api) -> None:
    """Consent granted and withdrawn, restriction on and off, a rectification."""
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    ok(jane_api, WITHDRAW, {"p": MARKETING})
    ok(jane_api, RESTRICT)
    ok(jane_api, LIFT)
    ok(jane_api, UPDATE_PROFILE, {"input": {"givenName": "Janet"}})


def events_by_id(services: Services) -> dict[uuid.UUID, OutboxEvent]:
    with services.db.unit_of_work() as uow:
        return {e.id: e for e in uow.session.scalars(select(OutboxEvent))}


def test_events_through_the_api_arrive_once_in_effect_despite_failures_and_a_crash(
        services: Services, jane: dict[str, Any], jane_api: Api, marketing_api: Api,
        clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_receiver(clock) as marketing_rx, running_receiver(clock) as loyalty_rx:
        subscribe(services, "email-marketing", marketing_rx)
        subscribe(services, "loyalty-engine", loyalty_rx)
        marketing_rx.failures = ["500", "drop", "500", "drop"]
        loyalty_rx.failures = ["drop", "500"]
        member_changes(jane_api)

        events = events_by_id(services)
        expected = {
            "email-marketing": ["consent.changed", "consent.changed", "member.restricted",
                                "member.restricted", "member.rectified"],
            # Not a recipient of marketing consent changes.
            "loyalty-engine": ["member.restricted", "member.restricted", "member.rectified"],
        }
        by_client: dict[str, list[Delivery]] = {}
        for d in deliveries(services):
            by_client.setdefault(d.client_id, []).append(d)
        assert {c: [events[d.event_id].type for d in ds] for c, ds in by_client.items()} \
            == expected

        # The worker dies after the receiver accepted one message, before recording it.
        record, crashed = delivery_module._record, []

        def crash_once(db: Any, courier: Any, message: Any, status: str, ok: bool,
                       now: Any) -> None:
            if ok and not crashed:
                crashed.append(delivery_module.webhook_id(message.event_id, message.client_id))
                raise RuntimeError("worker killed between the POST and the commit")
            record(db, courier, message, status, ok, now)

        monkeypatch.setattr(delivery_module, "_record", crash_once)
        for _ in range(10):
            try:
                deliver_due(services.db, services.courier, now=clock.now)
            except RuntimeError:
                break
            clock.advance(BACKOFF_CAP)
        assert len(crashed) == 1
        # Restarted at once, the worker leaves the leased delivery alone; once the lease
        # lapses, it sends it again, with the same webhook-id.
        clock.advance(LEASE.total_seconds() + 1)
        drain(services, clock)

    assert pending_count(services) == 0
    assert {d.state for d in deliveries(services)} == {"delivered"}
    assert marketing_rx.rejected == [] and loyalty_rx.rejected == []
    for rx, client in ((marketing_rx, "email-marketing"), (loyalty_rx, "loyalty-engine")):
        unique = rx.unique()
        # Nothing lost: every delivery arrived ...
        assert list(unique) == [f"{d.event_id}:{client}" for d in by_client[client]], \
            "lost, extra or out-of-order events"
        # ... and a repeat is the same message, so de-duplicating by webhook-id is enough.
        for item in rx.accepted:
            assert item.raw == unique[item.webhook_id].raw
        for webhook_id, item in unique.items():
            event = events[uuid.UUID(webhook_id.split(":")[0])]
            assert set(item.body) == {"type", "timestamp", "data"}
            assert item.body["type"] == event.type
            assert item.body["data"]["eventId"] == str(event.id)
            assert item.body["data"]["memberNumber"] == jane["memberNumber"]
            assert {k: v for k, v in item.body["data"].items()
                    if k not in ("eventId", "memberNumber")} == event.facts
            assert item.body["timestamp"].endswith("Z")
    duplicates = len(marketing_rx.accepted) + len(loyalty_rx.accepted) \
        - len(marketing_rx.unique()) - len(loyalty_rx.unique())
    assert duplicates == 1, "only the message whose recording crashed arrives twice"
    assert crashed[0] in {**marketing_rx.unique(), **loyalty_rx.unique()}

    marketing_bodies = [item.body for item in marketing_rx.unique().values()]
    assert [(b["type"], b["data"].get("granted", b["data"].get("restricted")))
            for b in marketing_bodies[:4]] == [
        ("consent.changed", True), ("consent.changed", False),
        ("member.restricted", True), ("member.restricted", False)]
    assert marketing_bodies[4]["data"]["fields"] == ["given_name"]
    assert marketing_bodies[0]["data"]["purpose"] == MARKETING
    assert marketing_bodies[0]["data"]["noticeVersion"] == 1


def test_a_withdrawal_never_overtakes_the_grant_it_withdraws(
        services: Services, jane_api: Api, marketing_api: Api, receiver: Receiver,
        clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    receiver.failures = ["500", "500", "500"]
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    ok(jane_api, WITHDRAW, {"p": MARKETING})
    for _ in range(3):
        deliver_due(services.db, services.courier, now=clock.now)
        grant, withdrawal = deliveries(services)
        assert grant.state == "pending" and withdrawal.attempts == 0, \
            "the withdrawal was sent while the grant was still undelivered"
        clock.advance(BACKOFF_CAP)
    drain(services, clock)
    assert [r.body["data"]["granted"] for r in receiver.unique().values()] == [True, False]


def test_a_receiver_down_too_long_goes_dead_then_replay_delivers(
        services: Services, jane: dict[str, Any], jane_api: Api, marketing_api: Api,
        officer_api: Api, receiver: Receiver, clock: Clock) -> None:
    max_attempts = services.settings.webhook_max_attempts
    subscribe(services, "email-marketing", receiver)
    receiver.down = True
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})

    made = 0
    for attempt in range(1, max_attempts + 1):
        made += deliver_due(services.db, services.courier, now=clock.now)
        (row,) = deliveries(services)
        assert row.attempts == attempt and row.last_status == "HTTP 503"
        if attempt == max_attempts:
            assert row.state == "dead"
            break
        assert row.state == "pending"
        # Exponential back-off, capped at an hour, with jitter that only shortens it.
        full = min(BACKOFF_BASE * 2 ** attempt, BACKOFF_CAP)
        waited = (row.next_attempt_at - clock.now).total_seconds()
        assert full * (1 - JITTER) - 1 <= waited <= full, (attempt, waited)
        # Not a moment early.
        clock.now = row.next_attempt_at - (row.next_attempt_at - clock.now) / 2
        assert deliver_due(services.db, services.courier, now=clock.now) == 0
        clock.now = row.next_attempt_at
    assert made == receiver.requests == max_attempts
    assert deliver_due(services.db, services.courier, now=clock.advance(86400)) == 0, \
        "a dead delivery is left alone"

    # Officers see the dead letter, with internal ids and no personal value.
    result = officer_api.graphql(DELIVERIES, {"state": "DEAD", "first": 10})
    assert "errors" not in result, result
    (item,) = result["data"]["deliveries"]["items"]
    assert item["eventType"] == "CONSENT_CHANGED" and item["clientId"] == "email-marketing"
    assert item["memberId"] == jane["id"] and item["attempts"] == max_attempts
    assert item["lastStatus"] == "HTTP 503" and item["deliveredAt"] is None
    assert jane["memberNumber"] not in json.dumps(result)

    receiver.down = False
    replayed = officer_api.graphql(REPLAY, {"id": item["id"]})["data"]["replayDelivery"]
    assert replayed == {"delivery": {"id": item["id"], "state": "PENDING", "attempts": 0},
                        "errors": []}
    assert deliver_due(services.db, services.courier, now=clock.now) == 1
    (row,) = deliveries(services)
    assert row.state == "delivered" and row.attempts == 1 and row.last_status == "HTTP 204"
    (arrived,) = receiver.unique().values()
    assert arrived.body["data"]["memberNumber"] == jane["memberNumber"]
    assert officer_api.graphql(DELIVERIES, {"state": "DEAD", "first": 10})[
        "data"]["deliveries"]["items"] == []

    for bad in ("999999", "not-a-number", "-1"):
        refused = officer_api.graphql(REPLAY, {"id": bad})["data"]["replayDelivery"]
        assert refused == {"delivery": None, "errors": [{"code": "NOT_FOUND"}]}


def test_a_receiver_with_the_wrong_secret_rejects_every_message(
        services: Services, jane_api: Api, marketing_api: Api, receiver: Receiver,
        clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    receiver.secrets["email-marketing"] = new_secret()  # not the one membervault signs with
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    assert deliver_due(services.db, services.courier, now=clock.now) == 1
    assert receiver.rejected == ["no matching signature"] and receiver.accepted == []
    (row,) = deliveries(services)
    assert row.state == "pending" and row.last_status == "HTTP 401"


def test_the_receiver_rejects_a_message_signed_too_long_ago(
        services: Services, jane_api: Api, marketing_api: Api, receiver: Receiver,
        clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    receiver.clock = Clock(clock.now)
    receiver.clock.advance(301)  # the receiver's clock is ahead: the signature is stale
    deliver_due(services.db, services.courier, now=clock.now)
    assert receiver.rejected == ["message timestamp too old"]


def test_the_body_and_member_number_never_reach_the_logs(
        services: Services, jane: dict[str, Any], jane_api: Api, marketing_api: Api,
        receiver: Receiver, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    subscribe(services, "email-marketing", receiver)
    receiver.failures = ["500", "drop"]
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    ok(jane_api, UPDATE_PROFILE, {"input": {"familyName": "Quasimodo-Vargas"}})
    with services.db.unit_of_work() as uow:  # the worker's view: pending, dead
        uow.session.execute(update(Delivery).values(next_attempt_at=clock.now))
        uow.commit()
    drain(services, clock)
    assert len(receiver.unique()) == 2
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    (first, second) = deliveries(services)
    assert str(first.event_id) in logged and "email-marketing" in logged
    assert "HTTP 500" in logged and "RemoteProtocolError" in logged
    for item in receiver.accepted:
        assert item.raw.decode() not in logged
    for secret_value in (jane["memberNumber"], jane["email"], jane["familyName"],
                         "Quasimodo-Vargas", receiver.secrets["email-marketing"],
                         "memberNumber"):
        assert secret_value not in logged


def test_a_client_without_a_webhook_gets_a_dead_letter_and_a_replay_after_it_returns(
        services: Services, jane_api: Api, marketing_api: Api, receiver: Receiver,
        clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    with services.db.unit_of_work() as uow:
        assert remove_webhook(uow.session, "email-marketing", actor="test")
        uow.commit()
    assert deliver_due(services.db, services.courier, now=clock.now) == 0
    (row,) = deliveries(services)
    assert (row.state, row.attempts, row.last_status) == ("dead", 0, "NO_WEBHOOK")
    assert receiver.requests == 0

    subscribe(services, "email-marketing", receiver)  # a new URL and secret
    with services.db.unit_of_work() as uow:
        from outbox.tracking import replay

        replay(uow.session, row.id, actor="test", now=clock.now)
        uow.commit()
    assert deliver_due(services.db, services.courier, now=clock.now) == 1
    assert deliveries(services)[0].state == "delivered"
    assert receiver.rejected == [] and len(receiver.unique()) == 1


def test_events_pending_when_the_member_is_erased_carry_the_sealed_number(
        services: Services, jane: dict[str, Any], jane_api: Api, marketing_api: Api,
        receiver: Receiver, clock: Clock) -> None:
    """The erasure captures the member number sealed (AES-GCM under
    derive("outbox-member-number"), nonce || ciphertext, no associated data) before it
    shreds the keys; deliveries still pending for that member use it too."""
    subscribe(services, "email-marketing", receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    member_id = uuid.UUID(jane["id"])
    with services.db.unit_of_work() as uow:
        member = uow.session.get_one(Member, member_id)
        sealed = seal_member_number(services.keyring, jane["memberNumber"])
        member.wrapped_key = member.kek_version = member.member_number = None
        member.status = "erased"
        erased = emit(uow.session, "member.erased", member_id, {"erasedAt": "now"},
                      ["email-marketing"], sealed_member_number=sealed)
        uow.commit()
    drain(services, clock)
    bodies = [r.body for r in receiver.unique().values()]
    assert [b["type"] for b in bodies] == ["consent.changed", "member.erased"]
    assert {b["data"]["memberNumber"] for b in bodies} == {jane["memberNumber"]}

    # Once every recipient acknowledged, the sealed number is dropped: a replay has
    # nothing to address the member by, and turns dead without sending anything.
    with services.db.unit_of_work() as uow:
        uow.session.execute(update(OutboxEvent).values(sealed_member_number=None))
        uow.session.execute(update(Delivery).where(Delivery.event_id == erased.id)
                            .values(state="pending", attempts=0))
        uow.commit()
    requests = receiver.requests
    assert deliver_due(services.db, services.courier, now=clock.now) == 0
    assert receiver.requests == requests
    last = deliveries(services)[-1]
    assert (last.state, last.last_status) == ("dead", "MEMBER_NUMBER_UNAVAILABLE")


def test_a_batch_whose_lease_runs_short_hands_the_rest_back(
        services: Services, loyalty_api: Api, jane_api: Api, marketing_api: Api,
        receiver: Receiver, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    subscribe(services, "email-marketing", receiver)
    subscribe(services, "loyalty-engine", receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    ok(jane_api, RESTRICT)
    ok(jane_api, LIFT)  # five deliveries, to two clients
    # No time to spare in a lease: after the first message, the rest go back.
    monkeypatch.setattr(delivery_module, "LEASE", delivery_module.LEASE / 6)
    released: list[int] = []
    release = delivery_module._release

    def counting(db: Any, messages: list[Any]) -> None:
        released.extend(m.delivery_id for m in messages)
        release(db, messages)

    monkeypatch.setattr(delivery_module, "_release", counting)
    assert deliver_due(services.db, services.courier, now=clock.now) == 5
    assert released, "nothing was handed back"
    assert {d.state for d in deliveries(services)} == {"delivered"}
    assert len(receiver.accepted) == len(receiver.unique()) == 5


def test_retry_delays() -> None:
    assert retry_delay(1, rand=lambda: 0.0).total_seconds() == 2 * BACKOFF_BASE
    assert retry_delay(3, rand=lambda: 0.0).total_seconds() == 8 * BACKOFF_BASE
    assert retry_delay(20, rand=lambda: 0.0).total_seconds() == BACKOFF_CAP
    assert retry_delay(20, rand=lambda: 1.0).total_seconds() == BACKOFF_CAP * (1 - JITTER)


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite serialises writers, so it cannot "
                    "show two workers racing for one row; FOR UPDATE SKIP LOCKED is "
                    "PostgreSQL's")
def test_two_workers_at_once_post_each_delivery_once(
        http: Any, services: Services, jane: dict[str, Any], jane_api: Api,
        receiver: Receiver, clock: Clock) -> None:
    clients = [f"partner-{n}" for n in range(6)]
    for client_id in clients:
        create_principal(services, client_id, purposes=(MARKETING,))
        subscribe(services, client_id, receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})  # one event, six deliveries
    assert len(deliveries(services)) == len(clients)
    # No answer until both workers are mid-flight at the same time.
    receiver.hold, receiver.together = threading.Event(), 2

    barrier = threading.Barrier(2)
    made: list[int] = []
    failures: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            made.append(deliver_due(services.db, services.courier, now=clock.now))
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert failures == []
    seen = [item.webhook_id for item in receiver.accepted]
    assert receiver.rejected == []
    assert sorted(seen) == sorted(set(seen)), "a delivery was POSTed twice"
    assert len(seen) == receiver.requests == len(clients) == sum(made)
    assert all(m > 0 for m in made), "the second worker found nothing to do: no race shown"
    assert {d.state for d in deliveries(services)} == {"delivered"}


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite serialises writers; the lease "
                    "race needs PostgreSQL's row locks")
def test_two_workers_racing_for_one_delivery_post_it_once(
        services: Services, jane_api: Api, marketing_api: Api, receiver: Receiver,
        clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
    # The worker that got the delivery gets no answer until the other worker's whole pass
    # is over: that pass ran while the delivery was in flight.
    release = receiver.hold = threading.Event()
    barrier = threading.Barrier(2)
    made: list[int] = []

    def work() -> None:
        barrier.wait()
        made.append(deliver_due(services.db, services.courier, now=clock.now))
        release.set()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert sorted(made) == [0, 1]
    assert receiver.requests == 1 and len(receiver.accepted) == 1
    (row,) = deliveries(services)
    assert row.state == "delivered" and row.attempts == 1

