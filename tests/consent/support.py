"""Shared helpers for the consent tests: members signed in, consent calls, table snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from consent.models import Consent, ConsentRecord
from identity import clients
from tests.conftest import Api, client_token, member_token, register

GRANT = """mutation($p: String!, $v: Int!) { grantConsent(purpose: $p, noticeVersion: $v) {
  consents { purpose status grantedNoticeVersion } receiptIds errors { field code } } }"""
WITHDRAW = """mutation($p: String!) { withdrawConsent(purpose: $p) {
  consents { purpose status grantedNoticeVersion } receiptIds errors { field code } } }"""
MY_CONSENTS = """{ myConsents { purpose title notice noticeVersion legalBasis status
  grantedNoticeVersion objected updatedAt } }"""
MY_HISTORY = """{ myConsentHistory { items { receiptId purpose granted noticeVersion at channel actor
  gpc } } }"""
MEMBER_DATA = """
query($purpose: String!, $number: String!) {
  memberData(purpose: $purpose, memberNumber: $number) {
    memberNumber email givenName birthdate denied { field reason }
  }
}
"""
# memberData looked up by email, asking for the contact fields (the gate's tests compare the
# whole ``denied`` list, so it asks for nothing else).
MEMBER_DATA_BY_EMAIL = """
query($purpose: String!, $email: String) {
  memberData(purpose: $purpose, email: $email) {
    email givenName phone denied { field reason }
  }
}
"""
AUDIENCE = """
query($purpose: String!, $first: Int!, $after: String) {
  audience(purpose: $purpose, first: $first, after: $after) {
    items { memberNumber email } nextCursor
  }
}
"""
CONSENT_CHECK = """query($purpose: String!, $numbers: [String!]!) {
  consentCheck(purpose: $purpose, memberNumbers: $numbers) { memberNumber permitted reason } }"""


def signed_in(http: Any, settings: Any, email: str) -> Api:
    return Api(http, member_token(http, Path(settings.mailbox_file), email))


def new_member(loyalty_api: Api, http: Any, settings: Any, name: str,
               n: int) -> tuple[Api, dict[str, Any]]:
    """Register a member (by the loyalty engine) and sign them in."""
    payload = register(loyalty_api, email=f"{name}@example.org", phone=f"0740055{n:04d}",
                       givenName=name.title())
    assert payload["errors"] == [], payload
    return signed_in(http, settings, f"{name}@example.org"), payload["member"]


def change(api: Api, purpose: str, granted: bool, version: int = 1,
           **headers: str) -> dict[str, Any]:
    """Grant or withdraw through the member's own mutation; returns the payload."""
    if granted:
        result = api.graphql(GRANT, {"p": purpose, "v": version}, **headers)
        payload: dict[str, Any] = result["data"]["grantConsent"]
    else:
        result = api.graphql(WITHDRAW, {"p": purpose}, **headers)
        payload = result["data"]["withdrawConsent"]
    return payload


def grant(api: Api, purpose: str, version: int = 1, **headers: str) -> dict[str, Any]:
    payload = change(api, purpose, True, version, **headers)
    assert payload["errors"] == [], payload
    return payload


def withdraw(api: Api, purpose: str, **headers: str) -> dict[str, Any]:
    payload = change(api, purpose, False, **headers)
    assert payload["errors"] == [], payload
    return payload


def record_rows(services: Any) -> list[dict[str, Any]]:
    """Every consent record, in order, as plain values."""
    with services.db.unit_of_work() as uow:
        rows = uow.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
        return [{c.key: getattr(r, c.key) for c in ConsentRecord.__table__.columns}
                for r in rows]


def projection(services: Any) -> list[tuple[Any, ...]]:
    """The ``consents`` table, sorted, as plain tuples."""
    with services.db.unit_of_work() as uow:
        rows = uow.session.scalars(select(Consent)).all()
        return sorted((str(r.member_id), r.purpose, r.granted, r.notice_version, r.updated_at,
                       r.record_id) for r in rows)


RECORD = """mutation($input: MemberConsentInput!) { recordMemberConsent(input: $input) {
  consents { purpose title status grantedNoticeVersion } receiptIds errors { field code } } }"""


def collector(http: TestClient, services: Any, client_id: str, kind: str,
              collects_consent: bool = True) -> Api:
    """A client of the given kind, registered to collect consent (or not)."""
    with services.db.unit_of_work() as uow:
        secret = clients.create_client(
            uow.session, services.hasher, client_id=client_id, name=client_id, kind=kind,
            role="client", purposes=("loyalty.membership",),
            known_purposes=services.policy.purposes, actor="test",
            collects_consent=collects_consent)
        uow.commit()
    return Api(http, client_token(http, client_id, secret))


def record(api: Api, number: str, purpose: str = "marketing.email", granted: bool = True,
           **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"memberNumber": number, "purpose": purpose, "granted": granted}
    if granted:
        values["noticeVersion"] = 1
    values.update(extra)
    result = api.graphql(RECORD, {"input": values})
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["recordMemberConsent"]
    return payload
