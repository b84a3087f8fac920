"""The consent ledger (design rule 3): append-only records with evidence, the member's
consent overview and history, and the projection that can always be rebuilt."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update
from starlette.testclient import TestClient
from typer.testing import CliRunner

from consent import ledger
from consent.evidence import open_evidence
from consent.models import Consent, ConsentRecord
from identity.models import Member
from membervault.cli import app as cli
from tests.conftest import Api
from tests.consent.support import (
    MY_CONSENTS,
    MY_HISTORY,
    change,
    grant,
    new_member,
    projection,
    record_rows,
    withdraw,
)
from vaultkernel.settings import Settings

CLIENT_IP = "203.0.113.77"
USER_AGENT = "MemberApp/4.2 (privacy centre)"


@pytest.fixture
def http(app: Any) -> Iterator[TestClient]:
    """Requests come from a recognisable address, to prove it is never stored as such."""
    with TestClient(app, base_url="http://127.0.0.1:8000", client=(CLIENT_IP, 50123)) as client:
        yield client


def test_grant_and_withdrawal_append_records_and_never_update_them(
        member: tuple[Api, dict[str, Any]], services: Any) -> None:
    api, profile = member
    steps = [("marketing.email", True), ("marketing.email", False), ("marketing.sms", True),
             ("marketing.email", True), ("marketing.sms", False)]
    seen: list[dict[str, Any]] = []
    for n, (purpose, granted) in enumerate(steps, start=1):
        payload = change(api, purpose, granted, **{"user-agent": USER_AGENT})
        assert payload["errors"] == [] and len(payload["receiptIds"]) == 1
        rows = record_rows(services)
        assert len(rows) == n
        assert rows[:-1] == seen  # earlier records are untouched
        latest = rows[-1]
        assert (latest["purpose"], latest["granted"], latest["notice_version"]) == (
            purpose, granted, 1)
        assert latest["channel"] == "web"
        assert latest["actor"] == f"member:{profile['id']}"
        assert str(latest["member_id"]) == profile["id"]
        assert str(latest["receipt_id"]) == payload["receiptIds"][0]
        seen = rows
    assert len({r["receipt_id"] for r in seen}) == len(steps)


def test_the_evidence_holds_a_keyed_ip_hash_the_user_agent_and_the_gpc_flag(
        member: tuple[Api, dict[str, Any]], services: Any) -> None:
    api, profile = member
    grant(api, "marketing.email", **{"user-agent": USER_AGENT})
    withdraw(api, "marketing.email", **{"user-agent": USER_AGENT})
    first, second = record_rows(services)
    # In the clear only the GPC flag; the rest sealed under the member's data key.
    assert first["evidence"] == {"gpc": False} and first["sealed_evidence"] is not None
    with services.db.unit_of_work() as uow:
        row = uow.session.get(Member, uuid.UUID(profile["id"]))
        cipher = services.crypto.cipher(row.id, row.kek_version, row.wrapped_key)
        opened = [open_evidence(cipher, r) for r in uow.session.scalars(
            select(ConsentRecord).order_by(ConsentRecord.id))]
    assert opened[0].user_agent == USER_AGENT
    assert opened[0].gpc is False
    ip_hash = opened[0].ip_hash
    assert ip_hash is not None and re.fullmatch(r"[0-9a-f]{32}", ip_hash)
    assert opened[1].ip_hash == ip_hash  # same address, same hash
    # Keyed: not a plain hash anyone could recompute over the IPv4 space.
    assert ip_hash not in {hashlib.blake2b(CLIENT_IP.encode(), digest_size=16).hexdigest(),
                           hashlib.md5(CLIENT_IP.encode()).hexdigest(),  # noqa: S324
                           hashlib.sha256(CLIENT_IP.encode()).hexdigest()[:32]}
    with services.db.engine.connect() as connection:
        dumped = str(connection.execute(select(ConsentRecord.__table__)).all())
        dumped += str(connection.execute(select(Consent.__table__)).all())
    for value in (CLIENT_IP, USER_AGENT, ip_hash):
        assert value not in dumped
    assert second["sealed_evidence"] != first["sealed_evidence"]


def test_withdrawal_is_one_call_like_granting(member: tuple[Api, dict[str, Any]]) -> None:
    api, _ = member
    granted = grant(api, "rewards.birthday")
    assert {"purpose": "rewards.birthday", "status": "GRANTED", "grantedNoticeVersion": 1} in (
        granted["consents"])
    withdrawn = withdraw(api, "rewards.birthday")
    assert {"purpose": "rewards.birthday", "status": "WITHDRAWN",
            "grantedNoticeVersion": None} in withdrawn["consents"]
    assert len(withdrawn["receiptIds"]) == len(granted["receiptIds"]) == 1


@pytest.mark.parametrize("purpose", ["loyalty.membership", "analytics.segmentation"])
@pytest.mark.parametrize("granted", [True, False])
def test_contract_and_legitimate_interest_purposes_are_not_consentable(
        member: tuple[Api, dict[str, Any]], services: Any, purpose: str, granted: bool) -> None:
    api, _ = member
    payload = change(api, purpose, granted)
    assert payload["errors"] == [{"field": "purpose", "code": "NOT_CONSENTABLE"}]
    assert payload["receiptIds"] == []
    assert record_rows(services) == []


@pytest.mark.parametrize("granted", [True, False])
def test_an_unknown_purpose_is_refused(member: tuple[Api, dict[str, Any]], services: Any,
                                       granted: bool) -> None:
    api, _ = member
    payload = change(api, "marketing.carrier-pigeon", granted)
    assert payload["errors"] == [{"field": "purpose", "code": "UNKNOWN_PURPOSE"}]
    assert record_rows(services) == []


@pytest.mark.parametrize("version", [0, 2, -1])
def test_a_grant_to_another_notice_version_is_refused(
        member: tuple[Api, dict[str, Any]], services: Any, version: int) -> None:
    api, _ = member
    payload = change(api, "marketing.email", True, version)
    assert payload["errors"] == [{"field": "noticeVersion", "code": "NOTICE_OUTDATED"}]
    assert record_rows(services) == []


def test_my_consents_shows_every_purpose_with_its_notice_and_status(
        member: tuple[Api, dict[str, Any]], services: Any) -> None:
    api, _ = member
    policy = services.policy

    def overview() -> dict[str, dict[str, Any]]:
        items = api.graphql(MY_CONSENTS)["data"]["myConsents"]
        return {item["purpose"]: item for item in items}

    before = overview()
    assert set(before) == set(policy.purposes)
    for key, purpose in policy.purposes.items():
        item = before[key]
        assert (item["title"], item["notice"], item["noticeVersion"], item["legalBasis"]) == (
            purpose.title, purpose.notice, purpose.notice_version, purpose.legal_basis.upper())
        assert item["status"] == ("NOT_GIVEN" if purpose.consent_based else "NOT_CONSENT_BASED")
        assert item["grantedNoticeVersion"] is None and item["updatedAt"] is None
        assert item["objected"] is False

    grant(api, "marketing.email")
    granted = overview()["marketing.email"]
    assert (granted["status"], granted["grantedNoticeVersion"]) == ("GRANTED", 1)
    assert granted["updatedAt"] is not None
    assert overview()["marketing.sms"]["status"] == "NOT_GIVEN"

    withdraw(api, "marketing.email")
    withdrawn = overview()["marketing.email"]
    assert (withdrawn["status"], withdrawn["grantedNoticeVersion"]) == ("WITHDRAWN", None)


def test_my_consent_history_lists_every_change_in_order(
        member: tuple[Api, dict[str, Any]]) -> None:
    api, profile = member
    steps = [("marketing.email", True), ("personalization.offers", True),
             ("marketing.email", False), ("marketing.email", True),
             ("personalization.offers", False)]
    receipts = [change(api, p, g)["receiptIds"][0] for p, g in steps]
    history = api.graphql(MY_HISTORY)["data"]["myConsentHistory"]["items"]
    assert [(h["receiptId"], h["purpose"], h["granted"]) for h in history] == [
        (r, p, g) for r, (p, g) in zip(receipts, steps, strict=True)]
    assert {(h["channel"], h["actor"], h["noticeVersion"], h["gpc"]) for h in history} == {
        ("WEB", f"member:{profile['id']}", 1, False)}
    times = [h["at"] for h in history]
    assert times == sorted(times)


def test_another_members_changes_are_not_in_my_history(
        member: tuple[Api, dict[str, Any]], loyalty_api: Api, http: TestClient,
        settings: Settings) -> None:
    api, _ = member
    other, _ = new_member(loyalty_api, http, settings, "other", 2)
    grant(other, "marketing.email")
    assert api.graphql(MY_HISTORY)["data"]["myConsentHistory"]["items"] == []


@pytest.fixture
def mixed(loyalty_api: Api, http: TestClient, settings: Settings) -> list[Api]:
    """Four members with a mix of grants and withdrawals over several purposes."""
    apis = [new_member(loyalty_api, http, settings, f"mix{n}", 10 + n)[0] for n in range(4)]
    plan = [
        (0, "marketing.email", True), (0, "marketing.sms", True), (0, "marketing.email", False),
        (1, "marketing.email", True), (1, "partners.sharing", True),
        (2, "rewards.birthday", True), (2, "rewards.birthday", False),
        (2, "rewards.birthday", True), (0, "personalization.offers", True),
        (1, "partners.sharing", False), (3, "marketing.push", False),
    ]
    for who, purpose, granted in plan:
        assert change(apis[who], purpose, granted)["errors"] == []
    return apis


def test_rebuilding_the_projection_reproduces_it_exactly(mixed: list[Api],
                                                         services: Any) -> None:
    before = projection(services)
    assert len(before) == 7
    with services.db.unit_of_work() as uow:
        count = ledger.rebuild_projection(uow.session)
        uow.commit()
    assert count == len(before)
    assert projection(services) == before


def corrupt(services: Any) -> None:
    """Damage the projection: drop rows, flip a state, move a version and a pointer."""
    with services.db.engine.begin() as connection:
        rows = connection.execute(select(Consent.__table__).order_by(
            Consent.member_id, Consent.purpose)).all()
        connection.execute(delete(Consent).where(Consent.purpose == "marketing.sms"))
        connection.execute(delete(Consent).where(Consent.member_id == rows[0].member_id,
                                                 Consent.purpose == rows[0].purpose))
        connection.execute(update(Consent).where(Consent.purpose == "rewards.birthday")
                           .values(granted=False, notice_version=7))
        connection.execute(update(Consent).where(Consent.purpose == "marketing.email")
                           .values(granted=True, record_id=999_999))


def test_rebuilding_restores_a_corrupted_projection(mixed: list[Api], services: Any) -> None:
    before = projection(services)
    corrupt(services)
    assert projection(services) != before
    with services.db.unit_of_work() as uow:
        ledger.rebuild_projection(uow.session)
        uow.commit()
    assert projection(services) == before
    # and what members see follows the restored state
    overview = {i["purpose"]: i["status"]
                for i in mixed[0].graphql(MY_CONSENTS)["data"]["myConsents"]}
    assert (overview["marketing.email"], overview["marketing.sms"]) == ("WITHDRAWN", "GRANTED")


def test_rebuilding_only_some_members_leaves_the_others_alone(mixed: list[Api],
                                                             services: Any) -> None:
    before = projection(services)
    member_ids = sorted({row[0] for row in before})
    corrupt(services)
    damaged = projection(services)
    with services.db.unit_of_work() as uow:
        ledger.rebuild_projection(uow.session, [uuid.UUID(member_ids[1])])
        uow.commit()
    after = projection(services)
    assert [r for r in after if r[0] == member_ids[1]] == [
        r for r in before if r[0] == member_ids[1]]
    assert [r for r in after if r[0] != member_ids[1]] == [
        r for r in damaged if r[0] != member_ids[1]]


def test_the_cli_rebuilds_the_projection(mixed: list[Api], services: Any, settings: Settings,
                                         tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = projection(services)
    corrupt(services)
    for f in fields(Settings):
        monkeypatch.delenv(f"MEMBERVAULT_{f.name.upper()}", raising=False)
    monkeypatch.delenv("MEMBERVAULT_SETTINGS_FILE", raising=False)
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MEMBERVAULT_KEK_FILE", settings.kek_file)
    workdir = tmp_path / "cli"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    result = CliRunner().invoke(cli, ["consent", "rebuild"])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert f"{len(before)} member-purpose states" in result.stderr
    assert projection(services) == before


def test_erasure_scrubs_evidence_in_one_statement_whatever_the_number_of_records(
        services: Any) -> None:
    """``scrub_evidence`` keeps only the GPC flag of records that held an IP hash or a
    user agent, for the members given, with one UPDATE however many records they have."""
    erased, other = uuid.uuid4(), uuid.uuid4()
    kinds = {"ip": {"ip_hash": "ab12", "user_agent": None, "gpc": False},
             "agent_gpc": {"ip_hash": None, "user_agent": "MemberApp/4.2", "gpc": True},
             "bare": {"ip_hash": None, "user_agent": None, "gpc": True}}
    with services.db.unit_of_work() as uow:
        for member_id, copies in ((erased, 20), (other, 1)):
            for n in range(copies):
                for kind, evidence in kinds.items():
                    uow.session.add(ConsentRecord(
                        member_id=member_id, purpose="marketing.email", granted=True,
                        notice_version=1, channel="web", actor=f"test:{kind}:{n}",
                        evidence=evidence))
        uow.commit()
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", seen)
    try:
        with services.db.unit_of_work() as uow:
            scrubbed = ledger.scrub_evidence(uow.session, [erased])
            uow.commit()
    finally:
        event.remove(services.db.engine, "before_cursor_execute", seen)
    assert scrubbed == 40 and len(statements) == 1
    with services.db.unit_of_work() as uow:
        rows = uow.session.execute(select(ConsentRecord.member_id, ConsentRecord.actor,
                                          ConsentRecord.evidence)).all()
    for member_id, actor, evidence in rows:
        kind = actor.split(":")[1]
        if member_id == other or kind == "bare":
            assert evidence == kinds[kind]
        else:
            assert evidence == {"gpc": kind == "agent_gpc", "scrubbed_at_erasure": True}
