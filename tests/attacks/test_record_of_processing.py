"""Issue 11, item 10, replayed as the auditor reading the record of processing the running
service generates (GDPR Art. 30): the service's own activities, the processors, every
registered client as a recipient (per purpose too), the time limits of what is kept, and
the controller's address. Against a fixed policy and registry in-process:
tests/retention/test_ropa.py."""

from __future__ import annotations

from tests.attacks.server import PRINCIPALS
from tests.conftest import Api

ACTIVITIES = ["access_log", "consent_evidence", "sign_in", "data_subject_requests",
              "webhooks", "legal_holds", "suppression_list"]


def test_the_record_of_processing_answers_the_audit(officer: Api) -> None:
    result = officer.graphql("{ recordOfProcessing }")
    assert "errors" not in result, result
    record = result["data"]["recordOfProcessing"]
    assert record["controller"]["address"]
    supporting = {a["activity"]: a for a in record["supportingActivities"]}
    assert list(supporting) == ACTIVITIES
    assert {p["key"] if "key" in p else p["name"] for p in record["processors"]}
    assert any("Mail Relay" in p for p in supporting["sign_in"]["processors"])

    clients = {p for p, (role, _, _) in PRINCIPALS.items() if role == "client"}
    recipients = {r["clientId"] for r in record["recipients"]}
    assert recipients >= clients
    assert not recipients & {"attack-officer", "attack-admin"}
    per_purpose = {a["purpose"]: {r["clientId"] for r in a["recipients"]}
                   for a in record["processingActivities"]}
    for client in clients:
        for purpose in PRINCIPALS[client][1]:
            assert client in per_purpose[purpose], (client, purpose)

    limits = {t["record"]: t for a in supporting.values() for t in a["erasureTimeLimits"]}
    assert all(t["timeLimit"] for t in limits.values())
    indefinite = {r["record"]: r["reason"] for r in record["keptWithoutTimeLimit"]}
    assert {"legal_hold", "suppression_hash"} <= set(indefinite)
    assert all(reason.startswith("Kept without a time limit") for reason in indefinite.values())
