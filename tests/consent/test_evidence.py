"""Consent evidence sealed under the member's data key (consent.evidence), replaying the
audit: on PostgreSQL the erasure's scrub of the user agent and IP hash left them in dead
tuples and WAL. Now they are never written in the clear: the evidence column holds only
the GPC flag, the sealed column only ciphertext that opens for the member's receipts and
export while they exist, and after erasure neither the heap pages (dead tuples included)
nor the WAL hold them, while the old ciphertext that does remain no longer opens."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from consent.evidence import Evidence, open_evidence
from consent.models import ConsentRecord
from identity.models import Member
from membervault.services import Services
from subject_requests.erasure import erase_pending
from tests.conftest import BACKEND, Api
from tests.consent.support import GRANT
from tests.retention.support import open_erasure
from vaultkernel.clock import utcnow
from vaultkernel.sealing import TamperedCiphertext


def distinctive_agent() -> str:
    return f"EvidenceProbe/{secrets.token_hex(8)} (X11; audit replay)"


def grant_with_agent(api: Api, agent: str) -> None:
    result = api.graphql(GRANT, {"p": "marketing.email", "v": 1}, **{"user-agent": agent})
    assert result["data"]["grantConsent"]["errors"] == [], result


def ip_hash(services: Services) -> str:
    """The keyed hash of the test client's address, as the service computes it."""
    evidence = Evidence.from_request("testclient", None, False,
                                     services.keyring.derive("evidence-ip"))
    assert evidence.ip_hash is not None
    return evidence.ip_hash


def the_record(services: Services, member_id: str) -> tuple[ConsentRecord, Member]:
    with services.db.unit_of_work() as uow:
        record = uow.session.scalars(select_records(member_id)).one()
        member = uow.session.get(Member, uuid.UUID(member_id))
        assert member is not None
        return record, member


def select_records(member_id: str) -> Any:
    return sa.select(ConsentRecord).where(ConsentRecord.member_id == uuid.UUID(member_id))


def test_evidence_is_stored_sealed_and_opens_while_the_member_exists(
        services: Services, jane: dict[str, Any], jane_api: Api) -> None:
    agent = distinctive_agent()
    grant_with_agent(jane_api, agent)
    record, member = the_record(services, jane["id"])
    assert record.evidence == {"gpc": False}
    assert record.sealed_evidence is not None
    for value in (agent, ip_hash(services)):
        assert value.encode() not in record.sealed_evidence
    with services.db.unit_of_work() as uow:
        stored = uow.session.execute(sa.text(
            "SELECT CAST(evidence AS TEXT) FROM consent_records")).scalars().all()
    assert not any(agent in text or ip_hash(services) in text for text in stored)

    assert member.kek_version is not None and member.wrapped_key is not None
    cipher = services.crypto.cipher(member.id, member.kek_version, member.wrapped_key)
    opened = open_evidence(cipher, record)
    assert (opened.user_agent, opened.ip_hash, opened.gpc) == (agent, ip_hash(services), False)

    # Moved to another record, the sealed evidence does not open.
    with services.db.unit_of_work() as uow:
        other = ConsentRecord(receipt_id=uuid.uuid4(), member_id=member.id,
                              purpose="marketing.email", granted=True, notice_version=1,
                              channel="web", actor="test", evidence={"gpc": False},
                              sealed_evidence=record.sealed_evidence)
        with pytest.raises(TamperedCiphertext):
            open_evidence(cipher, other)


def test_after_erasure_the_evidence_is_gone_and_its_old_ciphertext_no_longer_opens(
        services: Services, jane: dict[str, Any], jane_api: Api) -> None:
    agent = distinctive_agent()
    grant_with_agent(jane_api, agent)
    before, member = the_record(services, jane["id"])
    assert member.kek_version is not None and member.wrapped_key is not None
    old_sealed = before.sealed_evidence
    assert old_sealed is not None

    open_erasure(services, jane["id"])
    assert erase_pending(services.db, services.erasure_kit, now=utcnow()) == 1
    after, erased = the_record(services, jane["id"])
    assert after.evidence == {"gpc": False, "scrubbed_at_erasure": True}
    assert after.sealed_evidence is None
    assert erased.wrapped_key is None  # the key that opened old_sealed is gone
    # A stale copy of the ciphertext (a dead tuple, a WAL record, a backup) holds neither
    # value and opens under no key the service still has: the member's data key was the
    # only one, and any other member's key fails authentication.
    for value in (agent, ip_hash(services)):
        assert value.encode() not in old_sealed
    other = services.crypto.new_member(member.id)[0]
    with pytest.raises(TamperedCiphertext):
        open_evidence(other, before)


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's dead tuples and WAL")
def test_postgresql_keeps_no_clear_evidence_in_dead_tuples_or_wal(
        services: Services, jane: dict[str, Any], jane_api: Api) -> None:
    agent = distinctive_agent()
    with services.db.engine.connect() as connection:
        connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        connection.commit()
        wal_start = connection.execute(sa.text(
            "SELECT pg_walfile_name(pg_current_wal_lsn())")).scalar_one()
    grant_with_agent(jane_api, agent)
    before, _ = the_record(services, jane["id"])
    assert before.sealed_evidence is not None
    open_erasure(services, jane["id"])
    assert erase_pending(services.db, services.erasure_kit, now=utcnow()) == 1

    with services.db.engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_switch_wal()"))  # the segment is complete
        blocks = connection.execute(sa.text(
            "SELECT pg_relation_size('consent_records') / current_setting('block_size')::int"
        )).scalar_one()
        pages = b"".join(bytes(connection.execute(sa.text(
            "SELECT get_raw_page('consent_records', :n)"), {"n": n}).scalar_one())
            for n in range(blocks))
        wal_end = connection.execute(sa.text(
            "SELECT pg_walfile_name(pg_current_wal_lsn())")).scalar_one()
        segments = [name for name in connection.execute(sa.text(
            "SELECT name FROM pg_ls_waldir() WHERE name >= :a AND name <= :b "
            "AND length(name) = 24 ORDER BY name"), {"a": wal_start, "b": wal_end}).scalars()]
        wal = b"".join(bytes(connection.execute(sa.text(
            "SELECT pg_read_binary_file('pg_wal/' || :name)"), {"name": name}).scalar_one())
            for name in segments)
    assert segments and wal
    # The scan sees the old row version: its ciphertext is still in a dead tuple or the WAL.
    assert before.sealed_evidence in pages + wal
    for value in (agent, ip_hash(services)):
        assert value.encode() not in pages, "a heap page (dead tuple) holds the evidence"
        assert value.encode() not in wal, "the WAL holds the evidence"
