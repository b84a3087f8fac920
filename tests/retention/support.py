"""Shared helpers for the erasure and legal-hold tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from membervault.services import Services
from outbox.subscriptions import set_webhook
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
HOLDS = """query($m: ID!) { legalHolds(memberId: $m) { id reason active } }"""


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
