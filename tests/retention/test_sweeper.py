"""The retention sweep with a fixed clock over a data set that spans every rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import func, select, update

from audit import member_index
from audit.access_log import AccessLog
from audit.chain import Read
from audit.models import AccessLogEntry, AuditEvent
from audit.verification import Verification, verify
from consent import ledger
from consent.evidence import Evidence
from consent.models import ConsentRecord
from export.models import ExportArchive
from identity import members
from identity.models import Member, SignInCode
from outbox.models import Delivery, OutboxEvent
from retention import sweeper
from retention.models import LegalHold
from subject_requests.models import DataSubjectRequest
from vaultkernel.clock import FixedClock, utcnow

NOW = dt.datetime(2031, 6, 15, 12, 0, tzinfo=dt.UTC)


def sweep(services: Any, **options: Any) -> sweeper.SweepReport:
    """The sweep as the worker runs it, with the service's own dependencies."""
    return sweeper.sweep(services.db, services.sweep_kit, **options)


def ago(**kwargs: float) -> dt.datetime:
    return NOW - dt.timedelta(**kwargs)


def months_ago(months: int) -> dt.datetime:
    return NOW - dt.timedelta(days=30.5 * months)


def new_member(services: Any, n: int, **extra: Any) -> uuid.UUID:
    with services.db.unit_of_work() as uow:
        profile = members.enrol_member(
            uow, services.crypto, {"given_name": f"Sweepy{n}", "family_name": "Tester",
                                   "email": f"sweep{n}@example.org",
                                   "birthdate": "1980-05-05", **extra},
            actor="test", default_region="GB")
    return profile.member_id


def set_member(services: Any, member_id: uuid.UUID, **values: Any) -> None:
    with services.db.engine.begin() as connection:
        connection.execute(update(Member).where(Member.id == member_id).values(**values))


def consent(services: Any, member_id: uuid.UUID, purpose: str, granted: bool,
            at: dt.datetime) -> None:
    with services.db.unit_of_work() as uow:
        record = ledger.record_consent(uow.session, services.policy, services.crypto,
                                       member_id, purpose, granted=granted, notice_version=1 if granted else None,
                                       channel="web", actor="test", evidence=Evidence())
        uow.session.flush()
        record.at = at
        ledger.rebuild_projection(uow.session, [member_id])
        uow.commit()


def log_entries(services: Any, monkeypatch: pytest.MonkeyPatch, at: dt.datetime,
                member_id: uuid.UUID, count: int) -> None:
    writer = AccessLog(services.db, FixedClock(at))
    for _ in range(count):
        writer.append("client:x", "loyalty.membership", [Read(member_id, ["email"])], "req")


@pytest.fixture
def world(services: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    w: dict[str, Any] = {}
    w["gone"] = new_member(services, 1)        # inactive 40 months, told 40 days ago
    w["warned"] = new_member(services, 2)      # inactive 37 months, not told yet
    w["active"] = new_member(services, 3)
    w["held"] = new_member(services, 4)        # like "gone", but under legal hold
    w["no_bday"] = new_member(services, 5)     # withdrew birthday rewards 31 days ago
    w["recent_bday"] = new_member(services, 6)  # withdrew 10 days ago
    for key in ("gone", "held"):
        set_member(services, w[key], last_activity_at=months_ago(40),
                   inactivity_notice_at=ago(days=40))
    set_member(services, w["warned"], last_activity_at=months_ago(37))
    for key in ("active", "no_bday", "recent_bday"):
        set_member(services, w[key], last_activity_at=ago(days=3))
    consent(services, w["no_bday"], "rewards.birthday", True, ago(days=100))
    consent(services, w["no_bday"], "rewards.birthday", False, ago(days=31))
    consent(services, w["recent_bday"], "rewards.birthday", True, ago(days=100))
    consent(services, w["recent_bday"], "rewards.birthday", False, ago(days=10))
    with services.db.unit_of_work() as uow:
        uow.session.add(LegalHold(member_id=w["held"], reason="litigation 2031-17",
                                  placed_by="officer:o", placed_at=ago(days=50)))
        # Erased long ago and recently: their consent proof expires after 6 years.
        for key, erased in (("old_erased", ago(days=366 * 7)), ("new_erased", ago(days=366))):
            w[key] = uuid.uuid4()
            uow.session.add(Member(id=w[key], status="erased", erased_at=erased))
        uow.commit()
    for key in ("old_erased", "new_erased"):
        with services.db.unit_of_work() as uow:
            uow.session.add(ConsentRecord(member_id=w[key], purpose="marketing.email",
                                          granted=False, notice_version=1, at=ago(days=3000),
                                          channel="web", actor="test", evidence={}))
            uow.commit()
    log_entries(services, monkeypatch, ago(days=3 * 366), w["active"], 5)
    log_entries(services, monkeypatch, ago(days=366 * 2 + 5), w["held"], 1)
    log_entries(services, monkeypatch, ago(days=3 * 366 - 1), w["active"], 2)
    log_entries(services, monkeypatch, ago(days=200), w["active"], 3)
    with services.db.unit_of_work() as uow:
        s = uow.session
        for closed in (months_ago(25), months_ago(1)):
            s.add(DataSubjectRequest(member_id=w["active"], type="access", jurisdiction="GDPR",
                                     state="completed", received_at=closed, due_at=closed,
                                     opened_by="test", closed_at=closed))
        archive = tmp_path / "old.zip.enc"
        archive.write_bytes(b"sealed")
        w["archive_file"] = archive
        s.add(ExportArchive(request_id=uuid.uuid4(), member_id=w["active"], path=str(archive),
                            token_hash=b"t" * 32, sealed_token=b"x", signature="s",
                            created_at=ago(days=8), expires_at=ago(days=1)))
        for created, state, delivered in ((ago(days=40), "delivered", ago(days=31)),
                                          (ago(days=40), "pending", None)):
            event = OutboxEvent(id=uuid.uuid4(), type="consent.changed", member_id=w["active"],
                                facts={}, created_at=created)
            s.add(event)
            s.flush()
            s.add(Delivery(event_id=event.id, client_id="c", state=state,
                           delivered_at=delivered))
        for created in (ago(hours=2), ago(minutes=10)):
            s.add(SignInCode(email_index=b"e" * 32, code_hash=b"h" * 32, created_at=created,
                             expires_at=created + dt.timedelta(minutes=10)))
        uow.commit()
    return w


EXPECTED = {"inactive_members": 1, "inactive_members:notice": 1, "birthdate_without_consent": 1,
            "consent_proof": 1, "access_log": 5, "closed_requests": 1, "export_archives": 1,
            "delivered_events": 5, "sign_in_codes": 1}  # 4 events without recipients


def test_dry_run_reports_exactly_what_the_sweep_then_does(services: Any,
                                                          world: dict[str, Any]) -> None:
    dry = sweep(services, now=NOW, dry_run=True, detail=True)
    assert dry.counts() == EXPECTED
    assert {o.rule: o.skipped_held for o in dry.outcomes}["inactive_members"] == 1
    with services.db.unit_of_work() as uow:  # the dry run changed nothing
        assert uow.session.get_one(Member, world["gone"]).status == "active"
    real = sweep(services, now=NOW, detail=True)
    assert {o.rule: sorted(o.keys or []) for o in real.outcomes} == {
        o.rule: sorted(o.keys or []) for o in dry.outcomes}
    assert str(world["gone"]) in next(o for o in real.outcomes
                                      if o.rule == "inactive_members").keys  # type: ignore[operator]


def test_the_sweep_applies_every_rule_and_a_second_sweep_changes_nothing(
        services: Any, world: dict[str, Any]) -> None:
    sweep(services, now=NOW)
    with services.db.unit_of_work() as uow:
        s = uow.session
        gone = s.get_one(Member, world["gone"])
        assert (gone.status, gone.email, gone.wrapped_key) == ("erased", None, None)
        assert s.get_one(Member, world["warned"]).inactivity_notice_at == NOW
        assert s.get_one(Member, world["warned"]).status == "active"
        held = s.get_one(Member, world["held"])
        assert held.status == "active" and held.email is not None  # legal hold: untouched
        assert s.get_one(Member, world["no_bday"]).birthdate is None
        assert s.get_one(Member, world["recent_bday"]).birthdate is not None
        proof = set(s.scalars(select(ConsentRecord.member_id)))
        assert world["old_erased"] not in proof and world["new_erased"] in proof
        assert s.scalar(select(func.count()).select_from(DataSubjectRequest)) == 1
        assert s.scalar(select(func.count()).select_from(ExportArchive)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.type == "consent.changed")) == 1
        assert s.scalar(select(func.count()).select_from(SignInCode)) == 1
        # the access log lost its 5 oldest entries and stops before the held member's
        assert s.scalar(select(func.min(AccessLogEntry.sequence))) == 6
        runs = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.sweep")).all()
        assert runs[-1].details["counts"] == EXPECTED
        assert verify(s).ok
    assert not world["archive_file"].exists()
    again = sweep(services, now=NOW)
    assert set(again.counts().values()) == {0}


def test_a_killed_sweep_resumes_to_the_same_end_state(services: Any, world: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    predicted = sweep(services, now=NOW, dry_run=True, detail=True)
    calls = {"n": 0}
    real_apply = sweeper.DeleteRows.apply

    def crash_on_third_batch(self: Any, session: Any, keys: Any, now: dt.datetime) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        real_apply(self, session, keys, now)

    monkeypatch.setattr(sweeper.DeleteRows, "apply", crash_on_third_batch)
    with pytest.raises(sweeper.SweepIncomplete):
        sweep(services, now=NOW, batch_size=1)
    monkeypatch.setattr(sweeper.DeleteRows, "apply", real_apply)
    resumed = sweep(services, now=NOW, batch_size=1, detail=True)
    first_run_total = sum(predicted.counts().values())
    assert 0 < sum(resumed.counts().values()) < first_run_total  # the first part stayed done
    assert set(sweep(services, now=NOW, dry_run=True).counts().values()) == {0}
    with services.db.unit_of_work() as uow:
        assert uow.session.get_one(Member, world["gone"]).status == "erased"
        assert uow.session.get_one(Member, world["held"]).status == "active"
        assert verify(uow.session).ok


def test_audit_verify_passes_after_pruning_and_still_catches_an_edit(
        services: Any, world: dict[str, Any]) -> None:
    sweep(services, now=NOW, rule="access_log")
    with services.db.unit_of_work() as uow:
        result = verify(uow.session)
    assert result.ok and result.checked == 6
    with services.db.engine.begin() as connection:
        connection.execute(update(AccessLogEntry).where(AccessLogEntry.sequence == 8)
                           .values(purpose="marketing.email"))
    with services.db.unit_of_work() as uow:
        broken = verify(uow.session)
    assert (broken.ok, broken.first_broken_sequence) == (False, 8)


def test_deleting_the_first_entry_after_the_checkpoint_is_caught(
        services: Any, world: dict[str, Any]) -> None:
    sweep(services, now=NOW, rule="access_log")
    with services.db.engine.begin() as connection:
        connection.execute(AccessLogEntry.__table__.delete().where(AccessLogEntry.sequence == 6))
    with services.db.unit_of_work() as uow:
        assert verify(uow.session).first_broken_sequence == 6


def test_an_unknown_rule_is_refused(services: Any) -> None:
    with pytest.raises(KeyError):
        sweep(services, now=NOW, rule="nope")


def test_a_rule_kind_without_a_handler_is_refused_when_the_sweep_is_wired(
        services: Any) -> None:
    """The requests' rule has its handler in subject_requests, given by the root."""
    with pytest.raises(ValueError, match="data_subject_request"):
        sweeper.SweepKit(erasure=services.erasure_kit, mailer=services.mailer,
                         handlers=sweeper.HANDLERS)


def test_the_loyalty_engine_reports_activity(services: Any, loyalty_api: Any,
                                             jane: dict[str, Any]) -> None:
    member_id = uuid.UUID(jane["id"])
    long_ago = utcnow() - dt.timedelta(days=35 * 30)
    set_member(services, member_id, last_activity_at=long_ago,
               inactivity_notice_at=utcnow() - dt.timedelta(days=1))
    result = loyalty_api.graphql("mutation($n: [String!]!) { recordActivity(memberNumbers: $n) }",
                                 {"n": [jane["memberNumber"], "000000000000", "junk"]})
    assert result["data"]["recordActivity"] == 2  # well-formed numbers: no membership oracle
    with services.db.unit_of_work() as uow:
        member = uow.session.get_one(Member, member_id)
        assert member.inactivity_notice_at is None
        assert member.last_activity_at > long_ago + dt.timedelta(days=1000)
    before = utcnow() - dt.timedelta(days=5000)  # activity is never moved backwards
    moved = loyalty_api.graphql(
        "mutation($n: [String!]!, $at: DateTime) { recordActivity(memberNumbers: $n, at: $at) }",
        {"n": [jane["memberNumber"]], "at": before.isoformat()})
    assert moved["data"]["recordActivity"] == 1
    with services.db.unit_of_work() as uow:
        assert uow.session.get_one(Member, member_id).last_activity_at > long_ago


def test_members_see_their_retention_schedule(jane_api: Any) -> None:
    items = jane_api.graphql("{ myRetentionSchedule { rule after description } }")[
        "data"]["myRetentionSchedule"]
    by_rule = {i["rule"]: i for i in items}
    assert by_rule["inactive_members"]["after"] == "36 months"
    assert "30 days before" in by_rule["inactive_members"]["description"]
    assert by_rule["sign_in_codes"]["after"] == "1 hour"


@pytest.mark.skipif(__import__("tests.conftest").conftest.BACKEND != "sqlite",
                    reason="scans the SQLite database files themselves")
def test_members_erased_by_the_sweep_leave_no_personal_value(services: Any, settings: Any,
                                                              world: dict[str, Any]) -> None:
    with services.db.unit_of_work() as uow:
        before = uow.session.get_one(Member, world["gone"])
        # What would let anyone recover a value: the wrapped key and the ciphertexts.
        secrets = [before.wrapped_key, before.email, before.given_name, before.email_index]
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # db, -wal, -shm
    assert all(s and s in raw for s in secrets)  # the scan can see them before
    sweep(services, now=NOW)
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in secrets:
        assert secret is not None and secret not in raw
    for value in (b"sweep1@example.org", b"Sweepy1"):
        assert value not in raw
    with services.db.unit_of_work() as uow:
        gone = uow.session.get_one(Member, world["gone"])
        assert all(getattr(gone, f) is None for f in ("email", "given_name", "wrapped_key",
                                                      "email_index", "member_number_index"))


def test_only_a_full_real_sweep_schedules_the_next(services: Any) -> None:
    sweep(services, now=NOW, dry_run=True)
    sweep(services, now=NOW, rule="sign_in_codes")
    with services.db.unit_of_work() as uow:
        assert sweeper.last_sweep_at(uow.session) is None
    sweep(services, now=NOW)
    with services.db.unit_of_work() as uow:
        assert sweeper.last_sweep_at(uow.session) is not None


def test_an_erasure_requests_acknowledged_event_outlives_the_delivered_events_rule(
        services: Any) -> None:
    with services.db.unit_of_work() as uow:
        event = OutboxEvent(id=uuid.uuid4(), type="member.erased", member_id=uuid.uuid4(),
                            facts={}, created_at=ago(days=400), request_id=uuid.uuid4())
        uow.session.add(event)
        uow.session.flush()
        uow.session.add(Delivery(event_id=event.id, client_id="c", state="delivered",
                                 delivered_at=ago(days=399), acknowledged_at=ago(days=398)))
        uow.commit()
    assert sweep(services, now=NOW, rule="delivered_events").counts() == {
        "delivered_events": 0}  # the certificate still needs who acknowledged, and when


class FailingMailer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, to: str, subject: str, body: str) -> None:
        if to.startswith("bounce"):
            raise RuntimeError(f"mailbox {to} refused")  # a message carrying the address
        self.sent.append(to)


def test_a_failing_notice_mail_neither_stops_the_sweep_nor_repeats_nor_logs_the_address(
        services: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    mailer = FailingMailer()
    services.sweep_kit = dataclasses.replace(services.sweep_kit, mailer=mailer)
    for name in ("bounce", "fine"):
        with services.db.unit_of_work() as uow:
            profile = members.enrol_member(uow, services.crypto, {
                "given_name": "N", "family_name": "N", "email": f"{name}@example.org"},
                actor="test", default_region="GB")
        with services.db.engine.begin() as connection:
            connection.execute(Member.__table__.update().where(Member.id == profile.member_id)
                               .values(last_activity_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    report = sweeper.sweep(services.db, services.sweep_kit, now=now)
    assert {o.rule: o.affected for o in report.outcomes}["inactive_members:notice"] == 2
    assert mailer.sent == ["fine@example.org"]
    again = sweeper.sweep(services.db, services.sweep_kit, now=now + dt.timedelta(hours=1))
    assert {o.rule: o.affected for o in again.outcomes}["inactive_members:notice"] == 0
    assert mailer.sent == ["fine@example.org"]  # nobody is mailed twice
    assert "bounce@example.org" not in caplog.text


@pytest.fixture
def crowd(services: Any) -> dict[str, set[uuid.UUID]]:
    """More inactive members than a batch of 4, some inactive since the very same moment
    (the keyset's ties), with members who are not due mixed in."""
    groups: dict[str, set[uuid.UUID]] = {"due": set(), "told_recently": set(),
                                         "not_told": set(), "active": set(), "held": set()}
    moments = [months_ago(40), months_ago(40), months_ago(40), months_ago(39), months_ago(38)]
    for n in range(20):
        member_id = new_member(services, 100 + n)
        if n < 11:
            groups["due"].add(member_id)
            set_member(services, member_id, last_activity_at=moments[n % len(moments)],
                       inactivity_notice_at=ago(days=40))
        elif n < 13:
            groups["told_recently"].add(member_id)
            set_member(services, member_id, last_activity_at=months_ago(40),
                       inactivity_notice_at=ago(days=10))
        elif n < 15:
            groups["not_told"].add(member_id)
            set_member(services, member_id, last_activity_at=months_ago(40))
        elif n < 19:
            groups["active"].add(member_id)
            set_member(services, member_id, last_activity_at=ago(days=3))
        else:
            groups["held"].add(member_id)
            set_member(services, member_id, last_activity_at=months_ago(40),
                       inactivity_notice_at=ago(days=40))
            with services.db.unit_of_work() as uow:
                uow.session.add(LegalHold(member_id=member_id, reason="litigation",
                                          placed_by="officer:o", placed_at=ago(days=50)))
                uow.commit()
    return groups


def test_a_sweep_over_several_batches_erases_exactly_the_due_members(
        services: Any, crowd: dict[str, set[uuid.UUID]]) -> None:
    report = sweep(services, now=NOW, rule="inactive_members", batch_size=4, detail=True)
    outcomes = {o.rule: o for o in report.outcomes}
    assert set(outcomes["inactive_members"].keys or []) == {str(m) for m in crowd["due"]}
    assert set(outcomes["inactive_members:notice"].keys or []) == {
        str(m) for m in crowd["not_told"]}
    with services.db.unit_of_work() as uow:
        state = dict(uow.session.execute(select(Member.id, Member.status)).all())
        told = dict(uow.session.execute(select(Member.id, Member.inactivity_notice_at)).all())
    assert {m for m, status in state.items() if status == "erased"} == crowd["due"]
    assert all(told[m] == NOW for m in crowd["not_told"])
    assert set(sweep(services, now=NOW, dry_run=True, rule="inactive_members")
               .counts().values()) == {0}


@pytest.mark.skipif(__import__("tests.conftest").conftest.BACKEND != "sqlite",
                    reason="SQLite's EXPLAIN QUERY PLAN")
def test_each_batch_of_inactive_members_is_read_from_the_status_activity_index(
        services: Any, crowd: dict[str, set[uuid.UUID]]) -> None:
    sent: list[tuple[str, Any]] = []

    def watch(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM members" in statement and "LIMIT" in statement:
            sent.append((statement, parameters))

    sqlalchemy.event.listen(services.db.engine, "before_cursor_execute", watch)
    try:
        sweep(services, now=NOW, rule="inactive_members", batch_size=4)
    finally:
        sqlalchemy.event.remove(services.db.engine, "before_cursor_execute", watch)
    assert len(sent) >= 4  # the 11 due members came in several batches
    with services.db.engine.connect() as connection:
        plans = [[row[-1] for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters)] for statement, parameters in sent]
    for plan in plans:
        assert any(step.startswith("SEARCH members USING INDEX "
                                   "ix_members_status_last_activity_at") for step in plan), plan
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # no sort of every due member
    # every batch but each handler's first starts in the index where the last one stopped
    starts = [plan for plan in plans if "last_activity_at>? AND last_activity_at<?" in plan[0]]
    assert len(starts) == len(plans) - 2, plans


def test_a_rule_reads_each_batch_after_the_last_key_of_the_one_before(
        services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rule's batches are a keyset: a batch starts after the previous one's last
    key, so no candidate is read twice and a sweep does not read the due range again for
    every batch (which grows with the square of the rows)."""
    with services.db.unit_of_work() as uow:
        for n in range(9):
            created = ago(hours=2, minutes=n)
            uow.session.add(SignInCode(email_index=bytes([n]) * 32, code_hash=b"h" * 32,
                                       created_at=created,
                                       expires_at=created + dt.timedelta(minutes=10)))
        uow.commit()
    applied: list[list[Any]] = []
    delete_batch = sweeper.SignInCodes.apply

    def apply(self: Any, session: Any, keys: Any, now: dt.datetime) -> None:
        applied.append(list(keys))
        delete_batch(self, session, keys, now)

    monkeypatch.setattr(sweeper.SignInCodes, "apply", apply)
    sent: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM sign_in_codes" in statement and "LIMIT" in statement:
            sent.append(statement)

    sqlalchemy.event.listen(services.db.engine, "before_cursor_execute", watch)
    try:
        report = sweep(services, now=NOW, rule="sign_in_codes", batch_size=2)
    finally:
        sqlalchemy.event.remove(services.db.engine, "before_cursor_execute", watch)
    assert report.counts() == {"sign_in_codes": 9}
    keys = [k for batch in applied for k in batch]
    assert len(applied) == 5 and len(set(keys)) == 9
    assert keys == sorted(keys)
    assert len(sent) == 6  # five batches and the empty one that ends the rule
    assert "sign_in_codes.id >" not in sent[0]
    assert all("sign_in_codes.id >" in statement for statement in sent[1:])


def test_a_log_old_to_its_last_entry_keeps_that_entry_and_the_chain_goes_on(
        services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every entry past the rule and indexed: all go but the newest, so the next entry
    is chained onto it (an emptied log started again at sequence 1, below the
    checkpoint, where neither the chain check nor the index looked)."""
    member = uuid.uuid4()
    log_entries(services, monkeypatch, months_ago(30), member, 4)
    member_index.catch_up(services.db)
    assert sweep(services, now=NOW, rule="access_log").counts() == {"access_log": 3}
    services.access_log.append("client:x", "loyalty.membership", [Read(member, ["email"])],
                               "req-after")
    with services.db.engine.connect() as connection:
        assert list(connection.scalars(select(AccessLogEntry.sequence)
                                       .order_by(AccessLogEntry.sequence))) == [4, 5]
    member_index.catch_up(services.db)
    with services.db.unit_of_work() as uow:
        assert verify(uow.session) == Verification(ok=True, checked=2)
        assert [a.sequence for a in member_index.of_member(uow.session, member, first=9)] == [5, 4]
