"""Migration 0010: consent evidence written in the clear (user agent, keyed IP hash) is
sealed under each member's data key, so erasure's crypto-shredding covers it; an erased
member's evidence is scrubbed; without the keyring the upgrade of such a database stops
with a clear message instead of leaving the evidence in the clear."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from consent.evidence import open_evidence
from consent.models import ConsentRecord
from identity.encryption import MemberCrypto
from identity.keyring import Keyring
from membervault import migrate
from tests.conftest import BACKEND
from vaultkernel.database import Database, create_db_engine

AGENT = "Mozilla/5.0 (X11; Migrating) Evidence/0010"
IP_HASH = "0123456789abcdef0123456789abcdef"


def _id(value: uuid.UUID) -> object:
    return value if BACKEND == "postgresql" else value.hex


def old_database(url: str, keyring: Keyring) -> tuple[uuid.UUID, uuid.UUID]:
    """At revision 0009: a live member and an erased one, each with a consent record whose
    evidence is in the clear, as 0009 wrote it."""
    migrate.upgrade(url, "0009")
    live, erased = uuid.uuid4(), uuid.uuid4()
    _, version, wrapped = MemberCrypto(keyring, keyring.derive).new_member(live)
    at = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    members = sa.table("members", *(sa.column(c) for c in (
        "id", "status", "kek_version", "wrapped_key", "created_at", "updated_at",
        "last_activity_at")))
    records = sa.table("consent_records", *(sa.column(c) for c in (
        "receipt_id", "member_id", "purpose", "granted", "notice_version", "at", "channel",
        "actor", "evidence")))
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.insert(members), [
            {"id": _id(live), "status": "active", "kek_version": version,
             "wrapped_key": wrapped, "created_at": at, "updated_at": at,
             "last_activity_at": at},
            {"id": _id(erased), "status": "erased", "kek_version": None,
             "wrapped_key": None, "created_at": at, "updated_at": at,
             "last_activity_at": at}])
        for member, gpc in ((live, False), (erased, True)):
            connection.execute(sa.insert(records).values(
                receipt_id=_id(uuid.uuid4()), member_id=_id(member),
                purpose="marketing.email", granted=True, notice_version=1, at=at,
                channel="web", actor=f"member:{member}",
                evidence=sa.func.json(sa.literal(
                    f'{{"ip_hash": "{IP_HASH}", "user_agent": "{AGENT}", "gpc": '
                    f'{str(gpc).lower()}}}')) if BACKEND != "postgresql" else sa.cast(
                    sa.literal(f'{{"ip_hash": "{IP_HASH}", "user_agent": "{AGENT}", '
                               f'"gpc": {str(gpc).lower()}}}'), sa.JSON)))
    engine.dispose()
    return live, erased


def test_clear_evidence_is_sealed_under_the_members_key(blank_url: str) -> None:
    keyring = Keyring.generate()
    live, erased = old_database(blank_url, keyring)

    with pytest.raises(migrate.KeyringRequired, match="keyring"):
        migrate.upgrade(blank_url)  # no keyring: stops, nothing half-done
    migrate.upgrade(blank_url, keyring=keyring)

    db = Database.from_url(blank_url)
    try:
        with db.unit_of_work() as uow:
            by_member = {r.member_id: r for r in uow.session.scalars(sa.select(ConsentRecord))}
            sealed = by_member[live]
            assert sealed.evidence == {"gpc": False}
            assert sealed.sealed_evidence is not None
            assert AGENT.encode() not in sealed.sealed_evidence
            member = uow.session.execute(sa.text(
                "SELECT kek_version, wrapped_key FROM members WHERE status = 'active'")).one()
            cipher = MemberCrypto(keyring, keyring.derive).cipher(live, member[0], member[1])
            opened = open_evidence(cipher, sealed)
            assert (opened.user_agent, opened.ip_hash, opened.gpc) == (AGENT, IP_HASH, False)

            scrubbed = by_member[erased]
            assert scrubbed.evidence == {"gpc": True, "scrubbed_at_erasure": True}
            assert scrubbed.sealed_evidence is None
            raw = uow.session.execute(sa.text(
                "SELECT CAST(evidence AS TEXT) FROM consent_records")).scalars().all()
            assert not any(AGENT in text or IP_HASH in text for text in raw)
    finally:
        db.dispose()


def test_an_empty_database_needs_no_keyring(blank_url: str) -> None:
    migrate.upgrade(blank_url)
