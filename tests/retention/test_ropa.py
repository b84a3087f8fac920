"""The record of processing (GDPR Art. 30), replaying the compliance audit: the service's
own activities (access log, consent evidence, sign-in, requests, webhooks, holds,
suppression) are listed, the processors come from the policy file, the recipients are the
clients registered in the database, what is kept without a time limit says so and why,
and the controller's address is given."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from identity.models import PERSONAL_FIELDS
from identity.service import set_principal_active
from membervault.services import DEFAULT_POLICY, Services
from outbox.subscriptions import set_webhook
from retention import ropa, service
from tests.conftest import create_principal
from tests.retention.support import officer
from vaultkernel.policy import parse_policy

ROPA = "query { recordOfProcessing }"
ACTIVITIES = ["access_log", "consent_evidence", "sign_in", "data_subject_requests",
              "webhooks", "legal_holds", "suppression_list"]


def registered(services: Services) -> None:
    """Clients as an operator registers them: one the policy does not know, one with a
    webhook, one disabled; and an officer, who is not a recipient."""
    create_principal(services, "email-marketing", purposes=("marketing.email",))
    create_principal(services, "crm-sync", purposes=("loyalty.membership",
                                                      "marketing.sms"))
    create_principal(services, "old-partner", purposes=("partners.sharing",))
    create_principal(services, "auditor-ann", "officer")
    with services.db.unit_of_work() as uow:
        set_webhook(uow.session, services.keyring, "email-marketing",
                    "http://127.0.0.1:9/hooks", production=False, actor="test")
        uow.commit()
    with services.db.unit_of_work() as uow:
        set_principal_active(uow, "old-partner", False, actor="test")


def test_the_record_lists_supporting_activities_processors_recipients_and_time_limits(
        http: Any, services: Services) -> None:
    registered(services)
    result = officer(http, services).graphql(ROPA)
    assert "errors" not in result, result
    record = result["data"]["recordOfProcessing"]

    assert record["controller"] == {"name": "Example Retail Ltd",
                                    "address": "Rue de l'Exemple 1, 1000 Bruxelles, BE",
                                    "dpo": "dpo@example.invalid"}

    # Every client registered in the database is a recipient (a disabled one too: data
    # has been disclosed to it); officers are not.
    recipients = {r["clientId"]: r for r in record["recipients"]}
    assert set(recipients) == {"email-marketing", "crm-sync", "old-partner"}
    assert recipients["old-partner"]["active"] is False
    assert recipients["email-marketing"]["webhook"] is True
    per_purpose = {a["purpose"]: [r["clientId"] for r in a["recipients"]]
                   for a in record["processingActivities"]}
    assert per_purpose["marketing.email"] == ["email-marketing"]
    assert per_purpose["marketing.sms"] == ["crm-sync"]
    assert per_purpose["loyalty.membership"] == ["crm-sync"]
    assert per_purpose["partners.sharing"] == ["old-partner"]
    assert per_purpose["analytics.segmentation"] == []

    # The processors of the policy file, in all and where they take part.
    assert [p["name"] for p in record["processors"]] == ["Example Mail Relay SA",
                                                        "Example Cloud Hosting NV"]
    supporting = {a["activity"]: a for a in record["supportingActivities"]}
    assert list(supporting) == ACTIVITIES
    assert "Example Mail Relay SA" in supporting["sign_in"]["processors"]
    assert [r["clientId"] for r in supporting["webhooks"]["recipients"]] == ["email-marketing"]
    membership = next(a for a in record["processingActivities"]
                      if a["purpose"] == "loyalty.membership")
    assert "Example Mail Relay SA" in membership["processors"]

    # Time limits: from the retention rules, or kept without one, with the reason.
    rules = services.policy.retention
    limits = {t["record"]: t for a in supporting.values() for t in a["erasureTimeLimits"]}
    assert limits["access_log"]["timeLimit"] == rules["access_log"].describe()
    assert limits["consent_record"]["timeLimit"] == rules["consent_proof"].describe()
    assert limits["outbox_event"]["timeLimit"] == rules["delivered_events"].describe()
    assert limits["sign_in_code"]["timeLimit"] == rules["sign_in_codes"].describe()
    assert limits["data_subject_request"]["keptWithoutTimeLimit"] is False
    for kept in ("legal_hold", "suppression_hash"):
        assert limits[kept]["keptWithoutTimeLimit"] is True
        assert limits[kept]["timeLimit"].startswith("Kept without a time limit")
    indefinite = {r["record"]: r["reason"] for r in record["keptWithoutTimeLimit"]}
    assert set(indefinite) == {"legal_hold", "audit_trail", "tombstone", "suppression_hash"}
    assert all(reason.startswith("Kept without a time limit") for reason in
               indefinite.values())
    assert membership["erasureTimeLimits"] == [rules["inactive_members"].describe()]
    assert record["transfersToThirdCountries"] == services.policy.transfers
    assert record["transfers"] == []


def test_a_record_without_a_rule_for_a_kind_says_it_is_kept_without_a_time_limit() -> None:
    data = copy.deepcopy(tomllib.loads(DEFAULT_POLICY.read_text()))
    del data["retention"]["consent_proof"]
    policy = parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS)
    record = ropa.record_of_processing(policy, [])
    indefinite = {r["record"] for r in record["keptWithoutTimeLimit"]}
    assert "consent_record" in indefinite
    assert record["recipients"] == []
    markdown = ropa.as_markdown(record)
    assert "Records of your consents and their evidence (`consent_record`): Kept without a " \
           "time limit" in markdown
    assert "No client is registered." in markdown


def test_the_markdown_gives_every_section(services: Services) -> None:
    registered(services)
    with services.db.unit_of_work() as uow:
        markdown = ropa.as_markdown(service.record_of_processing(uow, services.policy))
    for heading in ("## Processing activities", "## Supporting activities", "## Recipients",
                    "## Processors", "## Transfers to third countries",
                    "## Time limits for erasure", "Kept without a time limit:",
                    "## Security measures"):
        assert heading in markdown
    for title in ("Access log", "Consent records and their evidence", "Member sign-in",
                  "Data subject requests", "Notifications to recipients", "Legal holds",
                  "Marketing suppression list"):
        assert f"### {title}" in markdown
    assert "Rue de l'Exemple 1, 1000 Bruxelles, BE" in markdown
    assert "- old-partner (`old-partner`, client, inactive): partners.sharing" in markdown
    assert "email-marketing (`email-marketing`, client, sent webhooks)" in markdown


def test_a_stated_transfer_is_in_the_record_with_its_safeguard() -> None:
    data = copy.deepcopy(tomllib.loads(DEFAULT_POLICY.read_text()))
    data["policy"]["transfers"] = "to our support desk in the United States"
    data["processors"]["support-desk"] = {"name": "Example Support Inc.",
                                          "service": "answers members' questions",
                                          "country": "US", "categories": ["contact.email"]}
    data["third_country_transfers"] = {"support-us": {
        "recipient": "support-desk", "country": "US", "safeguard": "binding_corporate_rules",
        "details": "group BCR approved 2025"}}
    policy = parse_policy(data, "policy.toml", member_attributes=PERSONAL_FIELDS)
    record = ropa.record_of_processing(policy, [])
    assert record["transfers"] == [{"recipient": "support-desk", "country": "US",
                                    "safeguard": "binding_corporate_rules",
                                    "safeguardText": "binding corporate rules (GDPR Art. "
                                                     "46(2)(b) and 47)",
                                    "details": "group BCR approved 2025"}]
    assert "- support-desk (US): binding corporate rules" in ropa.as_markdown(record)
