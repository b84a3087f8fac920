"""A real webhook receiver on loopback, a fixed clock, helpers to drive deliveries, and the
GraphQL documents the outbox tests send."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import func, select

from membervault.services import Services
from outbox import webhooks
from outbox.delivery import LEASE, deliver_due
from outbox.models import Delivery
from outbox.subscriptions import set_webhook
from tests.conftest import Api
from vaultkernel.clock import utcnow

GRANT = """mutation($p: String!, $v: Int!) { grantConsent(purpose: $p, noticeVersion: $v) {
  errors { code } } }"""
WITHDRAW = "mutation($p: String!) { withdrawConsent(purpose: $p) { errors { code } } }"
RESTRICT = "mutation { restrictMyProcessing { errors { code } } }"
LIFT = "mutation { liftMyRestriction { errors { code } } }"
UPDATE_PROFILE = """mutation($input: UpdateProfileInput!) { updateMyProfile(input: $input) {
  errors { code } } }"""
DELIVERIES = """query($state: DeliveryState, $client: String, $first: Int!, $after: String) {
  deliveries(state: $state, clientId: $client, first: $first, after: $after) {
    items { id eventId eventType memberId clientId state attempts lastStatus eventCreatedAt
            nextAttemptAt deliveredAt acknowledgedAt }
    nextCursor } }"""
REPLAY = """mutation($id: ID!) { replayDelivery(deliveryId: $id) {
  delivery { id state attempts } errors { code } } }"""
MARKETING = "marketing.email"
LOOPBACK = "127.0.0.1/32"  # the receiver's network, allowed by the tests that use it
ACK = """mutation($id: ID!) { acknowledgeEvent(eventId: $id) {
  acknowledgement { eventId eventType acknowledgedAt } errors { field code } } }"""


def ok(api: Api, document: str, variables: dict[str, Any] | None = None) -> None:
    result = api.graphql(document, variables)
    assert "errors" not in result, result
    (payload,) = result["data"].values()
    assert payload["errors"] == [], payload


class Clock:
    """The worker's fixed clock, advanced by hand; the receiver checks timestamps with it.
    It starts a minute ahead of real time, so events the test causes first are due."""

    def __init__(self, start: dt.datetime | None = None):
        self.now = start or (utcnow() + dt.timedelta(minutes=1)).replace(microsecond=0)

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


HOLD_LIMIT = 20.0  # seconds a held request waits at most


@dataclass
class Received:
    webhook_id: str
    body: dict[str, Any]
    raw: bytes


@dataclass
class Receiver:
    """Verifies the Standard Webhooks signature of every request (401 if it fails) with
    the secret of the client its path names, records what it accepted, and misbehaves as
    told for the first requests: ``"500"`` answers HTTP 500, ``"drop"`` closes the
    connection without an answer. With a ``hold``, every request waits for that event
    before it is answered (at most :data:`HOLD_LIMIT` seconds, so a failing test does not
    hang); ``together`` sets it once that many requests are waiting at once."""

    clock: Clock
    secrets: dict[str, str] = field(default_factory=dict)  # client id -> signing secret
    failures: list[str] = field(default_factory=list)
    down: bool = False  # answer 503 to everything while set
    hold: threading.Event | None = None  # answer nothing until it is set
    together: int = 0  # set ``hold`` once this many requests wait at the same time
    waiting: int = 0
    accepted: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # why each bad signature failed
    requests: int = 0
    connections: int = 0  # TCP connections accepted (a request or not)
    hosts: list[str] = field(default_factory=list)  # the Host header of every request
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_release(self) -> None:
        """Hold a request until ``hold`` is set (``together`` waiting requests set it)."""
        hold = self.hold
        if hold is None:
            return
        with self.lock:
            self.waiting += 1
            if self.together and self.waiting >= self.together:
                hold.set()
        hold.wait(timeout=HOLD_LIMIT)

    def url_for(self, client_id: str) -> str:
        return f"{self.url}/{client_id}"

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> str | int:
        with self.lock:
            self.requests += 1
            self.hosts.append(headers.get("host", ""))
            secret = self.secrets.get(path.rsplit("/", 1)[-1])
            if secret is None:
                self.rejected.append("unknown client")
                return 404
            try:
                msg_id = webhooks.verify(secret, headers, raw, now=self.clock.epoch())
            except webhooks.WebhookVerificationError as exc:
                self.rejected.append(str(exc))
                return 401
            if self.failures:
                return self.failures.pop(0)
            if self.down:
                return 503
            self.accepted.append(Received(msg_id, json.loads(raw), raw))
            return 204

    def unique(self) -> dict[str, Received]:
        """What the receiver processed, de-duplicated by webhook-id (first arrival)."""
        seen: dict[str, Received] = {}
        for item in self.accepted:
            seen.setdefault(item.webhook_id, item)
        return seen


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            with receiver.lock:
                receiver.connections += 1
            super().setup()

        def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            receiver.wait_for_release()
            outcome = receiver.handle(self.path, {k.lower(): v for k, v in self.headers.items()},
                                      raw)
            if outcome == "drop":
                self.close_connection = True
                return
            status = 500 if outcome == "500" else int(outcome)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def running_receiver(clock: Clock, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1; with ``tls`` (a server context) it speaks HTTPS."""
    receiver = Receiver(clock=clock)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    receiver.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/hooks/membervault"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def subscribe(services: Services, client_id: str, receiver: Receiver) -> str:
    """Register the receiver as the client's webhook; the receiver learns the secret."""
    with services.db.unit_of_work() as uow:
        secret = set_webhook(uow.session, services.keyring, client_id,
                             receiver.url_for(client_id), production=False, actor="test")
        uow.commit()
    receiver.secrets[client_id] = secret
    return secret


def deliveries(services: Services) -> list[Delivery]:
    with services.db.unit_of_work() as uow:
        return list(uow.session.scalars(select(Delivery).order_by(Delivery.id)))


def pending_count(services: Services) -> int:
    with services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Delivery)
                                      .where(Delivery.state == "pending")) or 0)


def deliver(services: Services, clock: Clock) -> int:
    """One delivery pass of the worker at the clock's time; returns the attempts made."""
    return deliver_due(services.db, services.courier, now=clock.now)


def drain(services: Services, clock: Clock, *, rounds: int = 60) -> int:
    """Run the worker's delivery step until nothing is pending, moving the clock on to the
    next scheduled attempt each time (or past a lease); returns the attempts made."""
    made = 0
    for _ in range(rounds):
        made += deliver(services, clock)
        if pending_count(services) == 0:
            return made
        with services.db.unit_of_work() as uow:
            later = uow.session.scalar(select(func.min(Delivery.next_attempt_at)).where(
                Delivery.state == "pending", Delivery.next_attempt_at > clock.now))
        clock.now = later or clock.now + LEASE + dt.timedelta(seconds=1)
    states = [(d.id, d.client_id, d.state, d.attempts, d.next_attempt_at, d.lease_until)
              for d in deliveries(services)]
    raise AssertionError(f"deliveries still pending after many rounds at {clock.now}: {states}")
