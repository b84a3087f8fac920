"""Delivering outbox events as signed webhooks: at least once, with back-off, then dead.

Each pass claims due pending deliveries with a short lease (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), builds and signs each message, POSTs it outside any database transaction,
and records the outcome:

- a 2xx answer marks the delivery delivered (only then: a crash between the POST and the
  commit leaves it pending, and once the lease lapses it is sent again with the same
  ``webhook-id``, which receivers de-duplicate on);
- anything else (another status, a timeout, a refused or dropped connection, a host that
  resolves to an address webhooks may not reach: ``REFUSED_ADDRESS``) counts an attempt
  and schedules the next one ``min(BACKOFF_BASE * 2**attempts, BACKOFF_CAP)``
  seconds later, less up to ``JITTER`` of it at random; after
  :attr:`Courier.max_attempts` attempts (``settings.webhook_max_attempts``) the delivery
  is dead, which officers see and can replay.

Per recipient and member, events go out in the order they were written: a delivery waits
while an earlier one for the same member and recipient is still pending, so a withdrawal
can never overtake the grant it withdraws.

Logs name the event id, the client id and the outcome; never the body or the member
number.

:func:`deliver_due` takes the :class:`~vaultkernel.database.Database` (one short
transaction per claim and per outcome, none open while POSTing) and a :class:`Courier`,
built once by the composition root.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.orm import Session, aliased

from identity.encryption import MemberCrypto
from identity.models import Client, Member
from outbox import webhooks
from outbox.addresses import PUBLIC_ONLY, AddressPolicy
from outbox.models import Delivery, OutboxEvent
from outbox.pinned_transport import AddressRefused, PinnedTransport
from outbox.secrets import Derives, open_member_number
from outbox.subscriptions import signing_secret
from vaultkernel.clock import utcnow
from vaultkernel.database import Database
from vaultkernel.jobs import claim

log = logging.getLogger("membervault.outbox")

LEASE = dt.timedelta(seconds=60)
BATCH = 5  # claimed at once: BATCH * TIMEOUT stays well inside the lease
MAX_PER_PASS = 100  # attempts per call, so one pass cannot run for ever ...
PASS_BUDGET = 30.0  # ... nor claim new work after this many seconds (other work waits)
TIMEOUT = 5.0  # seconds, for connecting and for the answer
BACKOFF_BASE = 30  # seconds
BACKOFF_CAP = 3600  # seconds
JITTER = 0.2  # up to this share of the delay is taken off at random
USER_AGENT = "membervault-webhooks/1"


@dataclass(frozen=True)
class Courier:
    """What delivering needs besides the database; built once by the composition root."""

    keyring: Derives  # webhook signing secrets and the sealed member numbers of erasures
    crypto: MemberCrypto  # a live member's number, opened with the member's data key
    max_attempts: int  # failed attempts before a delivery is dead
    addresses: AddressPolicy = PUBLIC_ONLY  # where POSTs may connect (public only)


def retry_delay(attempts: int, rand: Callable[[], float] = random.random) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1, 2, ...)."""
    delay = min(BACKOFF_BASE * 2 ** max(attempts, 0), BACKOFF_CAP)
    return dt.timedelta(seconds=delay * (1 - JITTER * rand()))


def webhook_id(event_id: uuid.UUID, client_id: str) -> str:
    """Stable across retries and replays of one event to one recipient."""
    return f"{event_id}:{client_id}"


def body_of(event: OutboxEvent, member_number: str) -> bytes:
    """The JSON body: ``{type, timestamp, data: {eventId, memberNumber, ...facts}}``."""
    data: dict[str, Any] = {"eventId": str(event.id), "memberNumber": member_number}
    data.update({k: v for k, v in (event.facts or {}).items() if k not in data})
    created = event.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    payload = {"type": event.type, "timestamp": created, "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Message:
    """One claimed delivery, ready to send (or with the reason it cannot be sent)."""

    delivery_id: int
    event_id: uuid.UUID
    client_id: str
    attempts: int
    url: str = ""
    headers: dict[str, str] | None = None
    body: bytes = b""
    undeliverable: str | None = None  # dead at once, without an attempt
    problem: str | None = None  # a failed attempt without a POST (e.g. a key problem)

    def __repr__(self) -> str:  # never show the body
        return f"Message(delivery={self.delivery_id}, event={self.event_id}, " \
               f"client={self.client_id})"


def _first_in_line() -> ColumnElement[bool]:
    """No earlier undelivered (pending or dead) delivery of an event about the same member
    to the same client: events arrive in order, and a replayed dead one cannot overtake a
    later event that cancels it."""
    earlier = aliased(Delivery)
    earlier_event = aliased(OutboxEvent)
    this_event = aliased(OutboxEvent)
    member_of_this = (select(this_event.member_id).where(this_event.id == Delivery.event_id)
                      .correlate(Delivery).scalar_subquery())
    return ~exists().where(earlier.client_id == Delivery.client_id,
                           earlier.state.in_(("pending", "dead")),
                           earlier.id < Delivery.id,
                           earlier_event.id == earlier.event_id,
                           earlier_event.member_id == member_of_this)


def deliver_due(db: Database, courier: Courier, now: dt.datetime | None = None, *,
                transport: httpx.BaseTransport | None = None) -> int:
    """Send every delivery due at ``now``; returns the number of attempts (POSTs) made.

    ``now`` decides what is due and schedules retries; leases and signature timestamps
    move on with the real time spent in the pass, so a long pass neither outlives its
    leases nor signs with a stale timestamp."""
    now = now or utcnow()
    made = 0
    pass_started = time.monotonic()
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False,
                      transport=transport or PinnedTransport(courier.addresses),
                      headers={"user-agent": USER_AGENT}) as http:
        while made < MAX_PER_PASS and time.monotonic() - pass_started < PASS_BUDGET:
            claimed_at = now + dt.timedelta(seconds=time.monotonic() - pass_started)
            started = time.monotonic()
            messages = _claim(db, courier, now, claimed_at, min(BATCH, MAX_PER_PASS - made))
            if not messages:
                break
            for index, message in enumerate(messages):
                if index and time.monotonic() - started > LEASE.total_seconds() - 2 * TIMEOUT:
                    # The lease is running out: hand the rest back rather than risk a
                    # second worker sending them at the same time.
                    _release(db, messages[index:])
                    break
                if message.undeliverable is not None:
                    _give_up(db, message)
                    continue
                if message.problem is None:
                    made += 1
                    status, ok = _post(http, message)
                else:
                    status, ok = message.problem, False
                _record(db, courier, message, status, ok, now)
    return made


def _claim(db: Database, courier: Courier, now: dt.datetime, claimed_at: dt.datetime,
           limit: int) -> list[Message]:
    with db.unit_of_work() as uow:
        session = uow.session
        claimed = claim(session, Delivery, Delivery.state == "pending",
                        Delivery.next_attempt_at <= now, _first_in_line(), lease=LEASE,
                        limit=limit, order_by=Delivery.id, now=claimed_at)
        messages, stale = [], []
        for delivery in claimed:
            # claim() re-checks only the lease: a row another worker finished in between
            # is current here (re-read after the claim) and is handed back untouched.
            if delivery.state != "pending" or delivery.next_attempt_at > now:
                stale.append(delivery.id)
                continue
            messages.append(_prepare(session, courier, delivery, claimed_at))
        if stale:
            session.execute(update(Delivery).where(Delivery.id.in_(stale))
                            .values(lease_until=None)
                            .execution_options(synchronize_session=False))
        uow.commit()  # nothing is held open while POSTing
    return messages


def _prepare(session: Session, courier: Courier, delivery: Delivery,
             signed_at: dt.datetime) -> Message:
    event = session.get_one(OutboxEvent, delivery.event_id)
    message = Message(delivery_id=delivery.id, event_id=event.id, client_id=delivery.client_id,
                      attempts=delivery.attempts)
    client = session.get(Client, delivery.client_id)
    if client is None or not client.active:
        message.undeliverable = "CLIENT_DISABLED"
        return message
    if client.webhook_url is None or client.sealed_webhook_secret is None:
        message.undeliverable = "NO_WEBHOOK"
        return message
    try:
        number = _member_number(session, courier, event)
        if number is None:
            message.undeliverable = "MEMBER_NUMBER_UNAVAILABLE"
            return message
        secret = signing_secret(courier.keyring, client)
        assert secret is not None
        message.url = client.webhook_url
        message.body = body_of(event, number)
        message.headers = {"content-type": "application/json",
                           **webhooks.sign(secret, webhook_id(event.id, client.client_id),
                                           int(signed_at.timestamp()), message.body)}
    except Exception as exc:  # noqa: BLE001  (a key problem: counted, logged by type only)
        message.problem = f"ERROR {type(exc).__name__}"
    return message


def _member_number(session: Session, courier: Courier, event: OutboxEvent) -> str | None:
    """The number recipients know the member by: sealed in an erasure event, else read from
    the live member; for an event still pending when its member was erased, from the
    sealed number of the erasure event (until every recipient has acknowledged that), or
    of the restriction event of an erasure a legal hold keeps the rest of (which erased the
    number)."""
    if event.sealed_member_number is not None:
        return open_member_number(courier.keyring, event.sealed_member_number)
    member = session.get(Member, event.member_id)
    if (member is not None and member.wrapped_key is not None
            and member.kek_version is not None and member.member_number is not None):
        cipher = courier.crypto.cipher(member.id, member.kek_version, member.wrapped_key)
        return cipher.decrypt("member_number", member.member_number)
    sealed = session.scalar(
        select(OutboxEvent.sealed_member_number)
        .where(OutboxEvent.member_id == event.member_id,
               OutboxEvent.type.in_(("member.erased", "member.restricted")),
               OutboxEvent.sealed_member_number.is_not(None))
        .order_by(OutboxEvent.created_at.desc()).limit(1))
    return None if sealed is None else open_member_number(courier.keyring, sealed)


def _post(http: httpx.Client, message: Message) -> tuple[str, bool]:
    try:
        with http.stream("POST", message.url, content=message.body,
                         headers=message.headers) as response:
            status = response.status_code  # the answer's body is never read
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return type(exc).__name__, False
    except AddressRefused:
        return "REFUSED_ADDRESS", False
    return f"HTTP {status}", 200 <= status < 300


def _record(db: Database, courier: Courier, message: Message, status: str, ok: bool,
            now: dt.datetime) -> None:
    max_attempts = courier.max_attempts
    attempts = message.attempts + 1
    mine = (Delivery.id == message.delivery_id, Delivery.state == "pending")
    with db.unit_of_work() as uow:
        if ok:
            # A 2xx is a fact, whatever else happened to the row meanwhile.
            uow.session.execute(update(Delivery).where(*mine).values(
                state="delivered", delivered_at=now, attempts=Delivery.attempts + 1,
                last_status=status, lease_until=None))
        else:
            dead = attempts >= max_attempts
            values: dict[str, Any] = {"attempts": attempts, "last_status": status,
                                      "lease_until": None, "state": "dead" if dead else "pending"}
            if not dead:
                values["next_attempt_at"] = now + retry_delay(attempts)
            # Unless an officer replayed it (or another worker took over) meanwhile.
            uow.session.execute(update(Delivery).where(
                *mine, Delivery.attempts == message.attempts).values(**values))
        uow.commit()
    if ok:
        log.info("delivered event %s to %s: %s", message.event_id, message.client_id, status)
    elif attempts >= max_attempts:
        log.error("delivery of event %s to %s is dead after %d attempts: %s",
                  message.event_id, message.client_id, attempts, status)
    else:
        log.warning("delivery of event %s to %s failed (attempt %d of %d): %s",
                    message.event_id, message.client_id, attempts, max_attempts, status)


def _give_up(db: Database, message: Message) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(update(Delivery).where(
            Delivery.id == message.delivery_id, Delivery.state == "pending",
            Delivery.attempts == message.attempts).values(
            state="dead", last_status=message.undeliverable, lease_until=None))
        uow.commit()
    log.error("delivery of event %s to %s is dead: %s", message.event_id, message.client_id,
              message.undeliverable)


def _release(db: Database, messages: list[Message]) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(update(Delivery).where(
            Delivery.id.in_([m.delivery_id for m in messages]), Delivery.state == "pending")
            .values(lease_until=None).execution_options(synchronize_session=False))
        uow.commit()
