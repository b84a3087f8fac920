"""B9's end-state comparison: it sees every difference that matters and none that is random
by design; and the floor leaves exactly what the service's sweep leaves."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from audit import trail
from bench import lifecycle
from bench.data import seed_members
from bench.end_state import TableState, differences, end_state
from bench.env import Env, Server, new_keyring, open_env
from identity.models import Member, SuppressedEmail
from outbox.models import Delivery, OutboxEvent
from outbox.secrets import open_member_number, seal_member_number
from retention.shredding import ErasureCause, erase_members
from tests.conftest import BACKEND, DEFAULT_POSTGRES, create_principal
from vaultkernel.clock import utcnow


def _state(env: Env) -> dict[str, TableState]:
    keyring = env.services.keyring
    return end_state(env.engine, lambda sealed: open_member_number(keyring, sealed))


@pytest.fixture
def erased(env: Env) -> list[uuid.UUID]:
    """30 members, a client with a webhook, 3 of them erased (events with random ids,
    sealed member numbers, deliveries, audit records)."""
    services = env.services
    create_principal(services, "email-marketing", purposes=("marketing.email",))
    with env.engine.begin() as connection:
        connection.execute(sa.text("UPDATE clients SET webhook_url = 'http://127.0.0.1:9/'"))
    seed_members(env, 30, sample=30)
    with env.engine.connect() as connection:
        ids = list(connection.scalars(sa.select(Member.id).order_by(Member.id).limit(3)))
    with services.db.unit_of_work() as uow:
        erase_members(uow.session, services.erasure_kit, ids, now=utcnow(),
                      cause=ErasureCause.rule("inactive_members"))
        uow.commit()
    return ids


def test_reading_twice_gives_the_same_state(env: Env, erased: list[uuid.UUID]) -> None:
    state = _state(env)
    assert state == _state(env)
    assert state["members"].rows == 30
    assert state["outbox_events"].rows == 3
    assert "access_log_members" not in state  # derived: the sweep catches it up itself


def test_fresh_event_ids_and_nonces_are_not_differences(env: Env,
                                                        erased: list[uuid.UUID]) -> None:
    before = _state(env)
    keyring = env.services.keyring
    with env.engine.begin() as connection:
        for event in connection.execute(sa.select(OutboxEvent)).mappings().all():
            fresh = uuid.uuid4()
            sealed = event["sealed_member_number"]
            connection.execute(sa.insert(OutboxEvent), {
                **event, "id": fresh, "sealed_member_number": None if sealed is None else
                seal_member_number(keyring, open_member_number(keyring, sealed))})
            connection.execute(sa.update(Delivery).where(Delivery.event_id == event["id"])
                               .values(event_id=fresh))
            connection.execute(sa.delete(OutboxEvent).where(OutboxEvent.id == event["id"]))
    assert differences(before, _state(env)) == {}


def test_the_sweeps_own_run_record_is_not_a_difference(env: Env,
                                                        erased: list[uuid.UUID]) -> None:
    before = _state(env)
    with env.services.db.unit_of_work() as uow:
        trail.record(uow.session, "system:retention", "retention.sweep", None, counts={})
        uow.commit()
    assert differences(before, _state(env)) == {}


@pytest.mark.parametrize("change, table", [
    ("UPDATE members SET given_name = NULL WHERE id = (SELECT id FROM members WHERE "
     "status = 'active' ORDER BY id LIMIT 1)", "members"),
    ("UPDATE members SET status = 'erased' WHERE id = (SELECT id FROM members WHERE "
     "status = 'active' ORDER BY id LIMIT 1)", "members"),
    ("DELETE FROM outbox_deliveries WHERE id = (SELECT MIN(id) FROM outbox_deliveries)",
     "outbox_deliveries"),
    ("UPDATE outbox_events SET sealed_member_number = NULL", "outbox_events"),
    ("DELETE FROM consents WHERE member_id = (SELECT id FROM members WHERE "
     "status = 'active' ORDER BY id LIMIT 1)", "consents"),
    ("UPDATE consent_records SET evidence = '{\"gpc\": true}' WHERE id = "
     "(SELECT MIN(id) FROM consent_records)", "consent_records"),
])
def test_a_changed_row_is_a_difference_of_its_table(env: Env, erased: list[uuid.UUID],
                                                    change: str, table: str) -> None:
    before = _state(env)
    with env.engine.begin() as connection:
        connection.execute(sa.text(change))
    assert list(differences(before, _state(env))) == [table]


def test_an_extra_suppression_hash_is_a_difference(env: Env, erased: list[uuid.UUID]) -> None:
    before = _state(env)
    with env.engine.begin() as connection:
        connection.execute(sa.insert(SuppressedEmail), {
            "email_hash": bytes(32), "added_at": utcnow(), "reason": "marketing_opt_out"})
    assert list(differences(before, _state(env))) == ["suppression_list"]


def test_an_audit_record_with_less_detail_is_a_difference(env: Env,
                                                          erased: list[uuid.UUID]) -> None:
    """What B9 caught in the floor: an erasure record smaller than the real one."""
    before = _state(env)
    with env.engine.begin() as connection:
        connection.execute(sa.text(
            "UPDATE audit_events SET details = :details WHERE action = 'member.erased' AND "
            "member_id = :member"), {"details": '{"retention_rule": "inactive_members"}',
                                     "member": erased[0] if BACKEND == "postgresql"
                                     else erased[0].hex})
    assert list(differences(before, _state(env))) == ["audit_events"]


# ---------------------------------------------------------------------------------------
# The floor of B9 against the service's sweep, on two copies of one small data set


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    base = DEFAULT_POSTGRES
    if BACKEND == "postgresql":
        request.getfixturevalue("postgres_server_url")  # skips when PostgreSQL is not there
        base = os.environ.get("MEMBERVAULT_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    server = Server(BACKEND, tmp_path, base_url=base)
    yield server
    server.close()


def test_the_floor_leaves_what_the_sweep_leaves_and_a_smaller_record_is_caught(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring_file = new_keyring(tmp_path)
    now = utcnow()
    env = open_env(BACKEND, server.create("sweep"), tmp_path, keyring_file=keyring_file)
    try:
        expired = lifecycle._sweep_data(env, 300, now, lambda _: None)
    finally:
        env.close()
    assert expired > 0

    def run(side: str, name: str) -> dict[str, TableState]:
        done = lifecycle.sweep_copy(side, BACKEND, server, tmp_path, keyring_file, now,
                                    name=name, inspect=True)
        assert done.erased == expired and done.state is not None
        return done.state

    service, floor = run("service", "service"), run("floor", "floor")
    assert differences(service, floor) == {}
    assert service["audit_events"].rows > expired  # one member.erased record per member
    # The floor as it was before: an erasure record without what was destroyed and kept.
    monkeypatch.setattr(lifecycle, "KEPT", ["tombstone", "consent_records"])
    assert list(differences(service, run("floor", "older_floor"))) == ["audit_events"]
