"""A material notice change asks members to consent again (design rule 3): grants of an
earlier notice version become stale; a non-material change keeps them valid."""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent import ledger
from consent.evidence import Evidence
from identity.models import PERSONAL_FIELDS
from membervault.app import create_app
from membervault.services import (
    DEFAULT_POLICY,
    Services,
    build_services,
    ensure_signing_key,
)
from tests.conftest import Api, client_token, create_principal
from tests.consent.support import AUDIENCE, MEMBER_DATA, MY_CONSENTS, change, new_member
from vaultkernel.policy import Policy, parse_policy
from vaultkernel.settings import Settings

PURPOSE = "marketing.email"


def policy_with(**changes: Any) -> Policy:
    """The default policy with ``marketing.email`` changed."""
    data = tomllib.loads(DEFAULT_POLICY.read_text())
    data["purposes"][PURPOSE].update(changes)
    return parse_policy(data, "test", member_attributes=PERSONAL_FIELDS)


@dataclass
class Vault:
    services: Services
    http: TestClient
    member: Api
    member_id: uuid.UUID
    member_number: str
    marketing: Api

    def read(self) -> dict[str, Any]:
        result = self.marketing.graphql(MEMBER_DATA, {"purpose": PURPOSE,
                                                      "number": self.member_number})
        assert "errors" not in result, result
        data: dict[str, Any] = result["data"]["memberData"]
        return data

    def audience(self) -> list[str]:
        page = self.marketing.graphql(AUDIENCE, {"purpose": PURPOSE, "first": 100})
        return [item["email"] for item in page["data"]["audience"]["items"]]

    def status(self) -> dict[str, Any]:
        items = self.member.graphql(MY_CONSENTS)["data"]["myConsents"]
        return next(i for i in items if i["purpose"] == PURPOSE)


@pytest.fixture
def open_vault(settings: Settings) -> Iterator[Callable[[Policy], Vault]]:
    """Start the app with a given policy: one member, and the email marketing client."""
    opened: list[tuple[Services, TestClient]] = []

    def start(policy: Policy) -> Vault:
        services = build_services(settings, policy=policy)
        ensure_signing_key(services)
        http = TestClient(create_app(settings, services), base_url="http://127.0.0.1:8000")
        http.__enter__()
        opened.append((services, http))
        loyalty = Api(http, client_token(http, "loyalty-engine", create_principal(
            services, "loyalty-engine", purposes=("loyalty.membership",))))
        marketing = Api(http, client_token(http, "email-marketing", create_principal(
            services, "email-marketing", purposes=(PURPOSE,))))
        member, profile = new_member(loyalty, http, settings, "noticed", 1)
        return Vault(services, http, member, uuid.UUID(profile["id"]), profile["memberNumber"],
                     marketing)

    yield start
    for services, http in reversed(opened):
        http.__exit__(None, None, None)
        services.close()


def grant_at_version_1(vault: Vault) -> None:
    """A grant recorded while the notice was at version 1 (before the policy changed)."""
    with vault.services.db.unit_of_work() as uow:
        ledger.record_consent(uow.session, policy_with(notice_version=1),
                              vault.services.crypto, vault.member_id, PURPOSE, granted=True, notice_version=1, channel="web",
                              actor=f"member:{vault.member_id}", evidence=Evidence())
        uow.commit()


def test_a_material_change_makes_an_earlier_grant_stale(
        open_vault: Callable[[Policy], Vault]) -> None:
    vault = open_vault(policy_with(notice_version=2, material_change=True))
    grant_at_version_1(vault)

    stale = vault.read()
    assert stale["email"] is None and stale["givenName"] is None
    assert {d["field"]: d["reason"] for d in stale["denied"]} == {
        "email": "CONSENT_STALE", "givenName": "CONSENT_STALE",
        "memberNumber": "CATEGORY_NOT_IN_PURPOSE", "birthdate": "CATEGORY_NOT_IN_PURPOSE"}
    assert vault.audience() == []
    status = vault.status()
    assert (status["status"], status["noticeVersion"], status["grantedNoticeVersion"]) == (
        "STALE", 2, 1)

    # Consenting again means consenting to the notice now shown.
    assert change(vault.member, PURPOSE, True, 1)["errors"] == [
        {"field": "noticeVersion", "code": "NOTICE_OUTDATED"}]
    payload = change(vault.member, PURPOSE, True, 2)
    assert payload["errors"] == []
    assert {"purpose": PURPOSE, "status": "GRANTED", "grantedNoticeVersion": 2} in (
        payload["consents"])

    fresh = vault.read()
    assert fresh["email"] == "noticed@example.org" and fresh["givenName"] == "Noticed"
    assert vault.status()["status"] == "GRANTED"


def test_the_bulk_paths_treat_a_stale_grant_like_no_grant(
        open_vault: Callable[[Policy], Vault]) -> None:
    vault = open_vault(policy_with(notice_version=2, material_change=True))
    grant_at_version_1(vault)
    query = """query($n: [String!]!) { consentCheck(purpose: "marketing.email",
      memberNumbers: $n) { memberNumber permitted reason } }"""
    check = vault.marketing.graphql(query, {"n": [vault.member_number]})
    assert check["data"]["consentCheck"] == [
        {"memberNumber": vault.member_number, "permitted": False, "reason": "CONSENT_STALE"}]
    assert vault.audience() == []
    change(vault.member, PURPOSE, True, 2)
    assert vault.audience() == ["noticed@example.org"]


def test_without_a_material_change_an_earlier_grant_stays_valid(
        open_vault: Callable[[Policy], Vault]) -> None:
    vault = open_vault(policy_with(notice_version=2, material_change=False))
    grant_at_version_1(vault)

    data = vault.read()
    assert data["email"] == "noticed@example.org"
    assert vault.audience() == ["noticed@example.org"]
    status = vault.status()
    assert (status["status"], status["noticeVersion"], status["grantedNoticeVersion"]) == (
        "GRANTED", 2, 1)
    # A new grant is still given to the notice now shown.
    assert change(vault.member, PURPOSE, True, 1)["errors"] == [
        {"field": "noticeVersion", "code": "NOTICE_OUTDATED"}]


def test_a_stale_grant_stays_stale_after_the_projection_is_rebuilt(
        open_vault: Callable[[Policy], Vault]) -> None:
    vault = open_vault(policy_with(notice_version=2, material_change=True))
    grant_at_version_1(vault)
    with vault.services.db.unit_of_work() as uow:
        ledger.rebuild_projection(uow.session)
        uow.commit()
    assert vault.status()["status"] == "STALE"
    assert {d["reason"] for d in vault.read()["denied"]} >= {"CONSENT_STALE"}
