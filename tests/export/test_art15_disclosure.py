"""The audit of an export against GDPR Art. 15(1)(c), (d) and 15(2), replayed: a member's
data reaches a client through the API and another through a webhook only, an officer
places a legal hold, the member exports, and every item the audit found missing is in the
archive: the webhook events and their deliveries (without secrets), the legal holds, the
recipients in all and per purpose (the webhook-only client too), the retention of every
kind of record kept, the processors, the transfers and their safeguards as the policy
states them, and profile.csv spelled like member.json."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import tomllib
import uuid
from typing import Any

import pytest

from identity.models import PERSONAL_FIELDS
from membervault.services import DEFAULT_POLICY, Services
from retention import service as retention_service
from tests.conftest import JANE, Api
from tests.consent.support import MEMBER_DATA, grant
from tests.export.support import (
    build,
    entries_of,
    open_access_request,
    read_archive,
    the_archive,
    validate,
)
from tests.outbox.support import LOOPBACK, Clock, Receiver, drain, running_receiver, subscribe
from vaultkernel.clock import utcnow
from vaultkernel.policy import parse_policy
from vaultkernel.records_kept import KEPT_RECORDS
from vaultkernel.settings import Settings

HOLD_REASON = "tax audit 2026: till receipts of the member"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on loopback, which webhooks may reach only when allowed."""
    return dataclasses.replace(settings, webhook_allowed_networks=LOOPBACK)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver(clock: Clock) -> Any:
    with running_receiver(clock) as rx:
        yield rx


@pytest.fixture
def audited(services: Services, jane: dict[str, Any], jane_api: Api, loyalty_api: Api,
            marketing_api: Api, receiver: Receiver, clock: Clock) -> dict[str, Any]:
    """The loyalty engine reads Jane through the API; the email marketing tool never reads
    her, but is sent her member number in a webhook when she grants marketing by email;
    an officer places a legal hold; Jane's data is then exported."""
    secret = subscribe(services, "email-marketing", receiver)
    grant(jane_api, "marketing.email")
    drain(services, clock)
    assert [r.body["type"] for r in receiver.unique().values()] == ["consent.changed"]
    read = loyalty_api.graphql(MEMBER_DATA, {"purpose": "loyalty.membership",
                                             "number": jane["memberNumber"]})
    assert read["data"]["memberData"]["email"] == JANE["email"]
    with services.db.unit_of_work() as uow:
        hold = retention_service.place_legal_hold(
            uow, uuid.UUID(jane["id"]), HOLD_REASON, actor="officer:test-officer",
            expires_at=utcnow() + dt.timedelta(days=90), now=utcnow())
        hold_id = hold.id
    request_id = open_access_request(services, jane["id"])
    assert build(services) == 1
    files = entries_of(read_archive(services, the_archive(services, request_id)))
    return {"files": files, "document": json.loads(files["member.json"]), "secret": secret,
            "url": receiver.url_for("email-marketing"), "hold_id": hold_id}


def _csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode())))


def test_webhook_events_and_their_deliveries_are_exported_without_secrets(
        audited: dict[str, Any], jane: dict[str, Any]) -> None:
    document, files = audited["document"], audited["files"]
    validate(document)
    [event] = document["events"]
    assert event["type"] == "consent.changed"
    assert event["facts"] == {"purpose": "marketing.email", "granted": True,
                              "noticeVersion": 1}
    [delivery] = event["deliveries"]
    assert delivery["clientId"] == "email-marketing"
    assert delivery["recipientName"] == "email-marketing"  # the clients table's name
    assert delivery["state"] == "delivered" and delivery["deliveredAt"].endswith("Z")
    assert delivery["acknowledgedAt"] is None

    [row] = _csv(files, "events.csv")
    assert row["event_id"] == event["eventId"] and row["type"] == "consent.changed"
    assert (row["recipient"], row["state"]) == ("email-marketing", "delivered")
    assert row["delivered_at"] == delivery["deliveredAt"]

    # No signing secret, no webhook URL anywhere in the archive.
    for name, body in files.items():
        assert audited["secret"].encode() not in body, name
        assert audited["url"].encode() not in body, name


def test_legal_holds_are_exported(audited: dict[str, Any]) -> None:
    document, files = audited["document"], audited["files"]
    [hold] = document["legalHolds"]
    assert hold["id"] == str(audited["hold_id"]) and hold["reason"] == HOLD_REASON
    assert hold["active"] is True and hold["liftedAt"] is None
    assert hold["expiresAt"].endswith("Z")
    [row] = _csv(files, "legal_holds.csv")
    assert (row["id"], row["reason"], row["active"]) == (hold["id"], HOLD_REASON, "true")
    summary = files["summary.md"].decode()
    assert "## Legal holds on your data" in summary and HOLD_REASON in summary


def test_recipients_include_clients_sent_the_member_number_by_webhook_per_purpose(
        audited: dict[str, Any]) -> None:
    document = audited["document"]
    recipients = {r["clientId"]: r for r in document["recipients"]}
    webhook_only = recipients["email-marketing"]
    assert webhook_only["via"] == ["webhook"] and webhook_only["reads"] == 0
    assert webhook_only["webhooks"] == 1
    assert webhook_only["purposes"] == ["marketing.email"]
    assert webhook_only["fields"] == ["member_number"]
    reader = recipients["loyalty-engine"]
    assert reader["via"] == ["api"] and reader["reads"] >= 1
    assert "loyalty.membership" in reader["purposes"]

    by_purpose = {p["purpose"]: p["recipients"] for p in document["recipientsByPurpose"]}
    assert list(by_purpose) == list(_policy_purposes())  # every purpose, policy order
    assert by_purpose["marketing.email"] == [{"clientId": "email-marketing",
                                              "name": "email-marketing", "kind": "client",
                                              "via": ["webhook"]}]
    assert [r["clientId"] for r in by_purpose["loyalty.membership"]] == ["loyalty-engine"]
    assert by_purpose["partners.sharing"] == []

    summary = audited["files"]["summary.md"].decode()
    assert "| email-marketing (`email-marketing`) | marketing.email | member_number | " \
           "webhook | 0 | 1 |" in summary
    assert "| Offers by email (`marketing.email`) | email-marketing (webhook) |" in summary


def test_retention_is_given_for_every_kind_of_record_kept(
        audited: dict[str, Any], services: Services) -> None:
    retention = {r["record"]: r["retention"] for r in audited["document"]["retention"]}
    assert list(retention) == [r.key for r in KEPT_RECORDS]
    rules = services.policy.retention
    assert retention["consent_record"] == rules["consent_proof"].describe()
    assert retention["access_log"] == rules["access_log"].describe()
    assert retention["data_subject_request"] == rules["closed_requests"].describe()
    assert retention["outbox_event"] == rules["delivered_events"].describe()
    assert "6 years after your erasure" in retention["consent_record"]
    assert "30 days after delivery" in retention["outbox_event"]
    assert retention["legal_hold"].startswith("Kept without a time limit")
    summary = audited["files"]["summary.md"].decode()
    for text in retention.values():
        assert text in summary


def test_processors_and_transfers_are_given_as_the_policy_states_them(
        audited: dict[str, Any], services: Services) -> None:
    document = audited["document"]
    assert document["controller"]["address"] == "Rue de l'Exemple 1, 1000 Bruxelles, BE"
    assert [p["key"] for p in document["processors"]] == ["mail-relay", "hosting"]
    assert document["transfers"] == {"summary": services.policy.transfers, "transfers": []}
    summary = audited["files"]["summary.md"].decode()
    assert "## Transfers outside the EEA (Art. 15(2))" in summary
    assert services.policy.transfers in summary
    assert "Example Mail Relay SA" in summary


def test_a_transfer_the_policy_states_is_exported_with_its_safeguard(
        services: Services, jane: dict[str, Any]) -> None:
    data = tomllib.loads(DEFAULT_POLICY.read_text())
    data["policy"]["transfers"] = "to our support desk in the United States"
    data["processors"]["support-desk"] = {"name": "Example Support Inc.",
                                          "service": "answers members' questions",
                                          "country": "US", "categories": ["contact.email"]}
    data["third_country_transfers"] = {"support-us": {
        "recipient": "support-desk", "country": "US",
        "safeguard": "standard_contractual_clauses",
        "details": "Commission clauses 2021/914, module 2; a copy from dpo@example.invalid"}}
    policy = parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS)
    services.exports = dataclasses.replace(services.exports, policy=policy)

    request_id = open_access_request(services, jane["id"])
    assert build(services) == 1
    files = entries_of(read_archive(services, the_archive(services, request_id)))
    document = json.loads(files["member.json"])
    validate(document)
    assert document["transfers"] == {
        "summary": "to our support desk in the United States",
        "transfers": [{"recipient": "support-desk", "recipientName": "Example Support Inc.",
                       "country": "US", "safeguard": "standard_contractual_clauses",
                       "safeguardText": "standard data protection clauses adopted by the "
                                        "European Commission (GDPR Art. 46(2)(c))",
                       "details": "Commission clauses 2021/914, module 2; a copy from "
                                  "dpo@example.invalid"}]}
    summary = files["summary.md"].decode()
    assert "| Example Support Inc. | US | standard data protection clauses" in summary


def test_profile_csv_names_fields_and_their_keys_as_member_json_does(
        audited: dict[str, Any]) -> None:
    document, files = audited["document"], audited["files"]
    rows = {r["field"]: r["value"] for r in _csv(files, "profile.csv")}
    profile = document["member"]["profile"]
    assert list(rows) == list(profile)
    assert json.loads(rows["postalAddress"]) == profile["postalAddress"]
    assert "postalCode" in rows["postalAddress"] and "postal_code" not in rows["postalAddress"]
    assert [a["field"] for a in document["attributes"]] == list(profile)


def _policy_purposes() -> list[str]:
    return list(tomllib.loads(DEFAULT_POLICY.read_text())["purposes"])

