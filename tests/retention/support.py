"""Shared helpers for the erasure and legal-hold tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import func, select

from membervault.services import Services
from outbox.models import Delivery, OutboxEvent
from outbox.subscriptions import set_webhook
from outbox.tracking import acknowledge
from subject_requests.lifecycle import receive
from subject_requests.models import DataSubjectRequest
from tests.conftest import Api, client_token, create_principal
from vaultkernel.clock import utcnow

WEBHOOK = "http://127.0.0.1:9/hooks"  # never called: these tests do not run deliveries

MEMBER_DATA = """query($purpose: String!, $number: String, $email: String) {
  memberData(purpose: $purpose, memberNumber: $number, email: $email) {
    memberNumber givenName familyName email denied { field reason } } }"""
CERTIFICATE = """query($id: ID!) { erasureCertificate(requestId: $id) { certificate jws } }"""
PENDING = """query($id: ID!) { pendingAcknowledgements(requestId: $id) {
  clientId deliveryState attempts deliveredAt } }"""
PLACE = """mutation($m: ID!, $r: String!, $e: DateTime) {
  placeLegalHold(memberId: $m, reason: $r, expiresAt: $e) {
    hold { id memberId reason placedBy active expiresAt } errors { field code } } }"""
LIFT = """mutation($h: ID!) { liftLegalHold(holdId: $h) {
  hold { id active liftedAt liftedBy } errors { field code } } }"""
HOLDS = """query($m: ID!) { legalHolds(memberId: $m) { items { id reason active } } }"""


def open_erasure(services: Services, member_id: str | uuid.UUID) -> uuid.UUID:
    with services.db.unit_of_work() as uow:
        request = receive(uow.session, uuid.UUID(str(member_id)), "erasure",
                          jurisdiction="GDPR", actor="member:test",
                          identity_verification="signed in", now=utcnow())
        uow.commit()
        return request.id


def request_of(services: Services, request_id: uuid.UUID) -> DataSubjectRequest:
    with services.db.unit_of_work() as uow:
        request = uow.session.get(DataSubjectRequest, request_id)
        assert request is not None
        return request


def count(services: Services, model: Any, *where: Any) -> int:
    with services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def subscribed_client(http: Any, services: Services, client_id: str,
                      purposes: tuple[str, ...]) -> Api:
    """A client service with a webhook, so erasure events are addressed to it."""
    secret = create_principal(services, client_id, purposes=purposes)
    with services.db.unit_of_work() as uow:
        set_webhook(uow.session, services.keyring, client_id, WEBHOOK, production=False,
                    actor="test")
        uow.commit()
    return Api(http, client_token(http, client_id, secret))


def officer(http: Any, services: Services, client_id: str = "test-officer") -> Api:
    secret = create_principal(services, client_id, "officer")
    return Api(http, client_token(http, client_id, secret))


def acknowledge_erasure_event(services: Services, request_id: uuid.UUID) -> bytes:
    """Every recipient acknowledges the request's ``member.erased`` event; returns the
    event's sealed member number as it was before (present until completion drops it)."""
    with services.db.unit_of_work() as uow:
        event = uow.session.scalars(select(OutboxEvent).where(
            OutboxEvent.request_id == request_id)).one()
        sealed = event.sealed_member_number
        assert sealed is not None
        for client_id in uow.session.scalars(select(Delivery.client_id)
                                             .where(Delivery.event_id == event.id)):
            acknowledge(uow.session, client_id, event.id, now=utcnow())
        uow.commit()
    return sealed


def fail_once_at(monkeypatch: pytest.MonkeyPatch, module: ModuleType, step: str,
                 kind: str) -> list[str]:
    """Make ``module.step`` fail on its first call, by an exception or by the process
    dying (``SystemExit``), then behave as before; returns the list of steps that failed
    (``[step]`` once the failure happened)."""
    real: Callable[..., Any] = getattr(module, step)
    failures: list[str] = []

    def fail_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(step)
            raise RuntimeError("simulated failure") if kind == "exception" else SystemExit(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, step, fail_once)
    return failures
