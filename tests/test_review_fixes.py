"""Attacks and failures found in review, each shown refused or survived."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from consent.models import ConsentRecord
from identity.models import Member
from outbox.errors import OutboxError
from outbox.subscriptions import validate_url
from retention import sweeper
from tests.conftest import Api, client_token, create_principal

OPEN_FOR = """mutation($m: ID!, $input: OpenRequestInput!, $v: String) {
  openRequestFor(memberId: $m, input: $input, identityVerification: $v) {
    request { id state } errors { field code } } }"""


@pytest.fixture
def officer(http: Any, services: Any) -> Api:
    return Api(http, client_token(http, "officer-r", create_principal(services, "officer-r",
                                                                       "officer")))


def test_an_officer_cannot_write_a_members_values(officer: Api, jane: dict[str, Any],
                                                  jane_api: Api) -> None:
    result = officer.graphql(OPEN_FOR, {"m": jane["id"], "v": "phone call", "input": {
        "type": "RECTIFICATION", "corrections": {"email": "officer@evil.example"}}})
    assert result["data"]["openRequestFor"]["errors"] == [
        {"field": "corrections", "code": "CORRECTIONS_BY_MEMBER_ONLY"}]
    assert jane_api.graphql("{ me { email } }")["data"]["me"]["email"] == jane["email"]


def test_verifying_identity_carries_out_a_restriction(officer: Api, jane: dict[str, Any],
                                                      jane_api: Api) -> None:
    opened = officer.graphql(OPEN_FOR, {"m": jane["id"], "v": None,
                                        "input": {"type": "RESTRICTION"}})
    request = opened["data"]["openRequestFor"]["request"]
    assert request["state"] == "IDENTITY_VERIFICATION"
    status = "{ myProcessingStatus { restricted } }"
    assert jane_api.graphql(status)["data"]["myProcessingStatus"]["restricted"] is False
    verified = officer.graphql(
        """mutation($id: ID!) { verifyRequestIdentity(requestId: $id, method: "id seen")
           { request { state } errors { code } } }""", {"id": request["id"]})
    assert verified["data"]["verifyRequestIdentity"]["request"]["state"] == "COMPLETED"
    assert jane_api.graphql(status)["data"]["myProcessingStatus"]["restricted"] is True


def test_one_export_a_day(jane_api: Api, services: Any) -> None:
    from membervault import worker

    opened = jane_api.graphql("mutation { openMyRequest(input: {type: ACCESS}) "
                              "{ request { id } errors { code } } }")
    assert opened["data"]["openMyRequest"]["errors"] == []
    worker.run_once(services)
    again = jane_api.graphql("mutation { openMyRequest(input: {type: ACCESS}) "
                             "{ request { id } errors { code } } }")
    assert again["data"]["openMyRequest"]["errors"] == [{"code": "TOO_SOON"}]


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data", "https://127.0.0.1/hook", "https://[::1]/h",
    "https://10.0.0.5/h", "https://192.168.1.2/h", "https://localhost/h",
    "https://metadata.google.internal/x", "https://printer.local/h"])
def test_webhooks_cannot_target_internal_addresses_in_production(url: str) -> None:
    with pytest.raises(OutboxError):
        validate_url(url, production=True)
    assert validate_url("https://hooks.partner.example/membervault", production=True)


def test_erasure_scrubs_consent_evidence_but_keeps_the_proof(
        http: Any, services: Any, jane: dict[str, Any], jane_api: Api) -> None:
    from export.requests import open_request
    from retention.erasure import erase_pending
    from vaultkernel.clock import utcnow

    jane_api.graphql("mutation { grantConsent(purpose: \"marketing.email\", noticeVersion: 1)"
                     " { errors { code } } }", **{"user-agent": "Mozilla/5.0 (Jane's phone)"})
    with services.db.unit_of_work() as uow:
        open_request(uow.session, uuid.UUID(jane["id"]), "erasure", jurisdiction="GDPR",
                     actor="test", identity_verification="signed in", now=utcnow())
        uow.commit()
    erase_pending(services.db, services.erasure_kit, now=utcnow())
    with services.db.unit_of_work() as uow:
        records = uow.session.scalars(select(ConsentRecord).where(
            ConsentRecord.member_id == uuid.UUID(jane["id"]))).all()
    assert records, "the proof of consent is kept"
    assert all("user_agent" not in (r.evidence or {}) and "ip_hash" not in (r.evidence or {})
               for r in records)
    assert "Jane's phone" not in str([r.evidence for r in records])


class FailingMailer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, to: str, subject: str, body: str) -> None:
        if to.startswith("bounce"):
            raise RuntimeError(f"mailbox {to} refused")  # a message carrying the address
        self.sent.append(to)


def test_a_failing_notice_mail_neither_stops_the_sweep_nor_repeats(
        services: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    from identity import members

    mailer = FailingMailer()
    services.mailer = mailer
    for name in ("bounce", "fine"):
        with services.db.unit_of_work() as uow:
            profile = members.register_member(uow, services.crypto, {
                "given_name": "N", "family_name": "N", "email": f"{name}@example.org"},
                actor="test", default_region="GB")
        with services.db.engine.begin() as connection:
            connection.execute(Member.__table__.update().where(Member.id == profile.id)
                               .values(last_activity_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    report = sweeper.sweep(services.db, services.erasure_kit, services.mailer, now=now)
    assert {o.rule: o.affected for o in report.outcomes}["inactive_members:notice"] == 2
    assert mailer.sent == ["fine@example.org"]
    again = sweeper.sweep(services.db, services.erasure_kit, services.mailer,
                          now=now + dt.timedelta(hours=1))
    assert {o.rule: o.affected for o in again.outcomes}["inactive_members:notice"] == 0
    assert mailer.sent == ["fine@example.org"]  # nobody is mailed twice
    assert "bounce@example.org" not in caplog.text


def test_officers_track_rectification_and_cannot_open_for_nobody(officer: Api,
                                                                 jane: dict[str, Any]) -> None:
    tracked = officer.graphql(OPEN_FOR, {"m": jane["id"], "v": "video call",
                                         "input": {"type": "RECTIFICATION"}})
    assert tracked["data"]["openRequestFor"]["request"]["state"] == "IN_PROGRESS"
    nobody = officer.graphql(OPEN_FOR, {"m": str(uuid.uuid4()), "v": "video call",
                                        "input": {"type": "ACCESS"}})
    assert nobody["data"]["openRequestFor"]["errors"] == [{"field": "memberId",
                                                           "code": "MEMBER_NOT_FOUND"}]
