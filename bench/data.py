"""Synthetic data sets, inserted fast but sealed for real.

Every member gets a fresh data key wrapped by the real keyring and every attribute is
encrypted with the real :class:`identity.encryption.MemberCipher` (AES-256-GCM, member id
and field name as associated data), with real blind indexes; only the inserting is
set-based: Core ``insert()`` executemany in batches instead of one ORM unit of work per
member. Consent comes as records plus their projection, like ``consent.ledger`` writes
them, with a realistic mix (60% granted email marketing, some withdrawn, 1% restricted,
3% objecting to segmentation).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import insert, select

from audit.chain import GENESIS, Read, entry_row, pack
from audit.models import AccessLogEntry
from bench.env import Env
from consent.models import Consent, ConsentRecord, Objection
from identity import member_number
from identity.encryption import MemberCipher, data_key_aad, new_data_key
from identity.models import Member
from vaultkernel.clock import utcnow

BATCH = 5000
GIVEN = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Dennis",
         "Frances", "Ken", "Radia", "Edsger", "Hedy", "Donald", "Sophie", "Niklaus", "Joan"]
FAMILY = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee",
          "Liskov", "Ritchie", "Allen", "Thompson", "Perlman", "Dijkstra", "Lamarr", "Knuth"]
TOWNS = [("London", "GB"), ("Manchester", "GB"), ("Leeds", "GB"), ("Bristol", "GB"),
         ("Edinburgh", "GB"), ("Cardiff", "GB")]
LANGUAGES = ["en", "en-GB", "fr", "de"]
# purpose -> share of members whose consent is currently granted
GRANTED_SHARE = {"marketing.email": 0.60, "marketing.sms": 0.30, "rewards.birthday": 0.40,
                 "personalization.offers": 0.25, "partners.sharing": 0.10}
WITHDRAWN_SHARE = 0.05  # granted once, then withdrawn (per consent purpose)
RESTRICTED_SHARE = 0.01
OBJECTION_SHARE = 0.03


def number_for(index: int) -> str:
    """A unique, valid member number (Luhn check digit) for the index-th synthetic member."""
    payload = str(10 ** 10 + index)
    return payload + member_number.luhn_check_digit(payload)


@dataclass
class Seeded:
    """What a seeding produced: counts to check the benchmarks against, and handles."""

    members: int = 0
    permitted: dict[str, int] = field(default_factory=dict)  # purpose -> members permitted
    # member numbers of members for whom marketing.email is permitted (sample)
    email_numbers: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)  # a sample of all member numbers
    ids: list[uuid.UUID] = field(default_factory=list)  # a sample of member ids

    def merge(self, other: Seeded) -> None:
        self.members += other.members
        for k, v in other.permitted.items():
            self.permitted[k] = self.permitted.get(k, 0) + v
        self.email_numbers.extend(other.email_numbers)
        self.numbers.extend(other.numbers)
        self.ids.extend(other.ids)


def _profile(rng: random.Random, index: int) -> dict[str, str]:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    town, country = rng.choice(TOWNS)
    values = {
        "member_number": number_for(index),
        "given_name": given,
        "family_name": family,
        "email": f"{given}.{family}.{index}@example.com".lower(),
        "preferred_language": rng.choice(LANGUAGES),
        "postal_address": orjson.dumps(
            {"country": country, "lines": [f"{rng.randint(1, 200)} High Street"],
             "locality": town, "postal_code": f"AB{rng.randint(1, 99)} {rng.randint(1, 9)}CD"},
            option=orjson.OPT_SORT_KEYS).decode(),
        "preferences": orjson.dumps({"topics": rng.sample(["food", "home", "garden",
                                                           "fashion"], 2)}).decode(),
    }
    if rng.random() < 0.8:
        values["phone"] = f"+4474{index:08d}"  # unique per index, E.164 as normalised
    if rng.random() < 0.7:
        values["birthdate"] = (f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-"
                               f"{rng.randint(1, 28):02d}")
    return values


def member_row(env: Env, rng: random.Random, index: int, *, now: dt.datetime,
               last_activity: dt.datetime, restricted: bool) -> dict[str, Any]:
    crypto = env.services.crypto
    member_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    data_key = new_data_key()
    kek_version, wrapped = crypto.keks.wrap(data_key, data_key_aad(member_id))
    cipher = MemberCipher(member_id, data_key)
    values = _profile(rng, index)
    row: dict[str, Any] = {
        "id": member_id, "status": "active", "kek_version": kek_version, "wrapped_key": wrapped,
        "member_number_index": crypto.index.digest("member_number", values["member_number"]),
        "email_index": crypto.index.digest("email", values["email"]),
        "phone_index": (crypto.index.digest("phone", values["phone"])
                        if "phone" in values else None),
        "created_at": now, "updated_at": now, "last_activity_at": last_activity,
        "restricted_at": now if restricted else None, "erased_at": None,
    }
    for name in ("member_number", "given_name", "family_name", "email", "phone", "birthdate",
                 "postal_address", "preferred_language", "preferences"):
        value = values.get(name)
        row[name] = cipher.encrypt(name, value) if value is not None else None
    return row


class Ids:
    """Explicit primary keys for consent records, continuing after what the table holds."""

    def __init__(self, connection: sa.Connection):
        self.next = (connection.scalar(select(sa.func.max(ConsentRecord.id))) or 0) + 1

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


def _consents(rng: random.Random, member_id: uuid.UUID, now: dt.datetime, ids: Ids,
              records: list[dict[str, Any]], projection: list[dict[str, Any]]) -> set[str]:
    """Consent records and the projection for one member; returns purposes now granted."""
    granted_now: set[str] = set()
    for purpose, share in GRANTED_SHARE.items():
        draw = rng.random()
        if draw < share:
            states = [True]
        elif draw < share + WITHDRAWN_SHARE:
            states = [True, False]
        else:
            continue
        at = now - dt.timedelta(days=rng.randint(1, 700))
        record_id = 0
        for granted in states:
            record_id = ids.take()
            records.append({"id": record_id, "receipt_id": uuid.UUID(int=rng.getrandbits(128),
                                                                        version=4),
                            "member_id": member_id, "purpose": purpose, "granted": granted,
                            "notice_version": 1, "at": at, "channel": rng.choice(["web", "app",
                                                                                   "store"]),
                            "actor": f"member:{member_id}",
                            "evidence": {"ip_hash": None, "user_agent": "bench", "gpc": False}})
            at += dt.timedelta(days=1)
        projection.append({"member_id": member_id, "purpose": purpose, "granted": states[-1],
                           "notice_version": 1, "updated_at": at, "record_id": record_id})
        if states[-1]:
            granted_now.add(purpose)
    return granted_now


def seed_members(env: Env, count: int, *, start: int = 0, seed: int = 1,
                 last_activity: Callable[[random.Random, int], dt.datetime] | None = None,
                 consents: bool = True, sample: int = 20_000,
                 progress: Callable[[int], None] | None = None) -> Seeded:
    """Insert ``count`` members (indexes ``start`` ..), with consents when asked."""
    rng = random.Random(seed * 1_000_003 + start)
    now = utcnow()
    result = Seeded(permitted={p: 0 for p in GRANTED_SHARE} | {"analytics.segmentation": 0,
                                                              "loyalty.membership": 0})
    engine = env.engine
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        members: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        projection: list[dict[str, Any]] = []
        objections: list[dict[str, Any]] = []
        with engine.begin() as connection:
            ids = Ids(connection)
            for offset in range(size):
                index = start + done + offset
                restricted = rng.random() < RESTRICTED_SHARE
                active_at = (last_activity(rng, index) if last_activity is not None
                             else now - dt.timedelta(days=rng.randint(0, 300)))
                row = member_row(env, rng, index, now=now, last_activity=active_at,
                                 restricted=restricted)
                members.append(row)
                granted: set[str] = set()
                if consents:
                    granted = _consents(rng, row["id"], now, ids, records, projection)
                    if rng.random() < OBJECTION_SHARE:
                        objections.append({"member_id": row["id"],
                                           "purpose": "analytics.segmentation", "at": now,
                                           "actor": f"member:{row['id']}"})
                    elif not restricted:
                        result.permitted["analytics.segmentation"] += 1
                if not restricted:
                    result.permitted["loyalty.membership"] += 1
                    for purpose in granted:
                        result.permitted[purpose] += 1
                number = number_for(index)
                if len(result.numbers) < sample:
                    result.numbers.append(number)
                    result.ids.append(row["id"])
                if ("marketing.email" in granted and not restricted
                        and len(result.email_numbers) < sample):
                    result.email_numbers.append(number)
            connection.execute(insert(Member), members)
            if records:
                connection.execute(insert(ConsentRecord), records)
                connection.execute(insert(Consent), projection)
            if objections:
                connection.execute(insert(Objection), objections)
        done += size
        result.members += size
        if progress is not None:
            progress(done)
    fix_sequences(env)
    return result


def fix_sequences(env: Env) -> None:
    """On PostgreSQL, move the consent record id sequence past the explicit ids."""
    if env.kind != "postgresql":
        return
    with env.engine.begin() as connection:
        connection.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('consent_records', 'id'), "
            "(SELECT COALESCE(MAX(id), 0) + 1 FROM consent_records), false)")


def analyze(env: Env) -> None:
    """Fresh planner statistics after a bulk load (what an operator runs after an import)."""
    with env.engine.connect() as connection:
        if env.kind == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


def chain_tail(connection: sa.Connection) -> tuple[int, bytes]:
    last = connection.execute(select(AccessLogEntry.sequence, AccessLogEntry.entry_hash)
                              .order_by(AccessLogEntry.sequence.desc()).limit(1)).first()
    return (last[0], last[1]) if last else (0, GENESIS)


def add_access_history(env: Env, member_id: uuid.UUID, entries: int, *,
                       principal: str = "client:email-marketing",
                       purpose: str = "marketing.email") -> None:
    """Append ``entries`` genuine hash-chained access-log entries about one member."""
    packed, members = pack([Read(member_id, ["email", "family_name", "given_name",
                                             "preferred_language"])])
    done = 0
    while done < entries:
        size = min(BATCH * 2, entries - done)
        now, request_id = utcnow(), f"bench-{done // size}"
        with env.engine.begin() as connection:
            sequence, previous = chain_tail(connection)
            rows = []
            for _ in range(size):
                sequence += 1
                rows.append(entry_row(previous, sequence, now, request_id, principal, purpose,
                                      packed, members))
                previous = rows[-1]["entry_hash"]
            connection.execute(insert(AccessLogEntry), rows)
        done += size


def add_consent_history(env: Env, member_id: uuid.UUID, records: int,
                        purposes: Sequence[str] = ("marketing.email", "marketing.sms",
                                                   "rewards.birthday", "partners.sharing")) -> None:
    """``records`` alternating grants and withdrawals over a few purposes, with the
    projection pointing at each purpose's latest record (ending with withdrawals)."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    latest: dict[str, dict[str, Any]] = {}
    with env.engine.begin() as connection:
        ids = Ids(connection)
        connection.execute(sa.delete(Consent).where(Consent.member_id == member_id))
        for n in range(records):
            purpose = purposes[n % len(purposes)]
            granted = (n // len(purposes)) % 2 == 0 and n < records - len(purposes)
            at = now - dt.timedelta(minutes=records - n)
            row = {"id": ids.take(), "receipt_id": uuid.uuid4(), "member_id": member_id,
                   "purpose": purpose, "granted": granted, "notice_version": 1, "at": at,
                   "channel": "web", "actor": f"member:{member_id}",
                   "evidence": {"ip_hash": None, "user_agent": "bench", "gpc": False}}
            rows.append(row)
            latest[purpose] = row
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(ConsentRecord), rows[start:start + BATCH])
        connection.execute(insert(Consent), [
            {"member_id": member_id, "purpose": p, "granted": r["granted"], "notice_version": 1,
             "updated_at": r["at"], "record_id": r["id"]} for p, r in latest.items()])
    fix_sequences(env)

