"""Migration 0007: an access log of one-member entries becomes entries of format 1 whose
chain still verifies, with the per-member index filled, and new entries chain on."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import orjson
import sqlalchemy as sa

from audit import member_index
from audit.access_log import AccessLog
from audit.chain import Read
from audit.verification import verify
from membervault import migrate
from tests.conftest import BACKEND
from vaultkernel.database import Database, create_db_engine


def old_hash(previous: bytes, sequence: int, at: dt.datetime, request_id: str, principal: str,
             purpose: str, member_id: uuid.UUID, returned: list[str],
             denied: dict[str, str]) -> bytes:
    """How revision 0006 chained an entry (copied here, so the test does not trust the
    code under test to remember it)."""
    content = orjson.dumps(
        {"sequence": sequence, "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
         "request_id": request_id, "principal": principal, "purpose": purpose,
         "member_id": str(member_id), "fields_returned": sorted(returned),
         "fields_denied": denied}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(previous + content).digest()


def test_old_entries_keep_verifying_and_new_ones_chain_on(blank_url: str) -> None:
    migrate.upgrade(blank_url, "0006")
    ann, bob = uuid.uuid4(), uuid.uuid4()
    at = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    old = [(ann, ["email"], {}), (bob, [], {"email": "CONSENT_REQUIRED"}),
           (ann, ["email", "given_name"], {"phone": "CATEGORY_NOT_IN_PURPOSE"})]
    table = sa.table("access_log", *(sa.column(c) for c in (
        "sequence", "at", "request_id", "principal", "purpose", "member_id",
        "fields_returned", "fields_denied", "previous_hash", "entry_hash")))
    engine = create_db_engine(blank_url)
    previous = bytes(32)
    with engine.begin() as connection:
        for sequence, (member, returned, denied) in enumerate(old, start=1):
            digest = old_hash(previous, sequence, at, "req-old", "client:x", "marketing.email",
                              member, returned, denied)
            connection.execute(sa.insert(table).values(
                sequence=sequence, at=at, request_id="req-old", principal="client:x",
                purpose="marketing.email",
                member_id=member.hex if BACKEND != "postgresql" else member,
                fields_returned=orjson.dumps(returned).decode(),
                fields_denied=orjson.dumps(denied).decode(), previous_hash=previous,
                entry_hash=digest))
            previous = digest
    engine.dispose()

    migrate.upgrade(blank_url)
    db = Database.from_url(blank_url)
    try:
        with db.unit_of_work() as uow:
            assert verify(uow.session).ok and verify(uow.session).checked == 3
            assert member_index.indexed_through(uow.session) == 3  # the index starts caught up
            seen = member_index.of_member(uow.session, ann, first=10)
            assert [(a.sequence, list(a.returned), a.denied) for a in seen] == [
                (3, ["email", "given_name"], {"phone": "CATEGORY_NOT_IN_PURPOSE"}),
                (1, ["email"], {})]
        AccessLog(db).append("client:y", "loyalty.membership",
                             [Read(ann, ["email"]), Read(bob, ["email"])], "req-new")
        member_index.catch_up(db)
        with db.unit_of_work() as uow:
            result = verify(uow.session)
            assert result.ok and result.checked == 4
            assert member_index.count_of_member(uow.session, bob) == (2, 4)
    finally:
        db.dispose()
