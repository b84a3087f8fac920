"""B1-B4 and B6: bulk reads and bulk consent checks, each against its floor.

Every measured path is the service's own: the real ASGI app (B1, B2, B6), the real
strawberry schema (B3) or the real gate and access log (B4). Every floor is hand-written
DB-API SQL plus the unavoidable per-member cryptography (unwrap the data key, AES-GCM
decrypt) and orjson. Before timing, each target checks that both sides return the same
values, member by member (decrypted, in order), so a fast but wrong path cannot pass; a
failed check raises ``CheckFailed`` and fails the run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.scalars import JSON

from audit.access_log import ReaderLog
from audit.chain import Read, unpack
from audit.models import AccessLogEntry
from bench.asgi import InProcess
from bench.data import Seeded
from bench.env import Env
from bench.measure import CheckFailed, Result, pair, ratio_result, same_values
from bench.raw import Raw
from consent import gate
from identity import member_number
from identity.principal import Principal
from schema.context import Context
from schema.schema import build_schema
from vaultkernel.clock import utcnow
from vaultkernel.database import UnitOfWork

PAGE = 1000
EMAIL_FIELDS = ("given_name", "family_name", "email", "preferred_language")
GRAPHQL = {"member_number": "memberNumber", "given_name": "givenName",
           "family_name": "familyName", "email": "email", "phone": "phone",
           "birthdate": "birthdate", "preferred_language": "preferredLanguage"}
AUDIENCE = """query($p: String!, $after: String) {
  audience(purpose: $p, first: 1000, after: $after) {
    items { givenName familyName email preferredLanguage } nextCursor } }"""
AUDIENCE_5 = """query($p: String!, $first: Int!, $after: String) {
  audience(purpose: $p, first: $first, after: $after) {
    items { memberNumber givenName familyName birthdate email denied { field reason } }
    nextCursor } }"""
CONSENT_CHECK = """query($p: String!, $n: [String!]!) {
  consentCheck(purpose: $p, memberNumbers: $n) { memberNumber permitted reason } }"""


@dataclass
class Bench:
    env: Env
    seeded: Seeded
    quick: bool
    repeats: int
    app: Any
    client: InProcess
    say: Callable[[str], None]

    def principal(self, client_id: str) -> Principal:
        return self.env.services.verifier.verify(self.env.token(client_id))


# ---------------------------------------------------------------------------------------
# The floor of a bulk read: raw keyset pages, unwrap + decrypt, orjson


def floor_pages(bench: Bench, purpose: str, fields: tuple[str, ...], *,
                ndjson: bool = False, limit: int | None = None,
                sink: Callable[[bytes], None] | None = None,
                collect: list[dict[str, Any]] | None = None) -> int:
    """Every member permitted for a consent-based purpose, a page at a time: raw fetch,
    decrypt of ``fields``, orjson (a JSON array per page, or NDJSON lines). ``collect``
    receives every member's values (GraphQL names), for the checks."""
    env = bench.env
    raw = Raw(env.kind, env.engine)
    crypto = env.services.crypto
    columns = ", ".join(f"m.{f}" for f in fields)
    sql = raw.sql(
        f"SELECT m.id, m.kek_version, m.wrapped_key, {columns} FROM members m "
        "JOIN consents c ON c.member_id = m.id AND c.purpose = ? "
        "WHERE m.status = 'active' AND m.restricted_at IS NULL AND c.granted = ? "
        "AND m.id > ? ORDER BY m.id LIMIT ?")
    names = [GRAPHQL[f] for f in fields]
    after: Any = raw.uuid(uuid.UUID(int=0))
    count = 0
    dumps = orjson.dumps
    try:
        cursor = raw.cursor()
        while True:
            cursor.execute(sql, (purpose, True, after, PAGE))
            rows = cursor.fetchall()
            items = []
            for row in rows:
                cipher = crypto.cipher(raw.to_uuid(row[0]), row[1], row[2])
                items.append({name: (cipher.decrypt(field, blob) if blob is not None else None)
                              for name, field, blob in zip(names, fields, row[3:],
                                                           strict=True)})
            out = b"".join(dumps(item) + b"\n" for item in items) if ndjson else dumps(items)
            if sink is not None:
                sink(out)
            if collect is not None:
                collect.extend(items)
            count += len(items)
            if len(rows) < PAGE or (limit is not None and count >= limit):
                break
            after = rows[-1][0]
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return count


def _next_cursor(body: bytes) -> str | None:
    """The nextCursor at the end of an audience answer, without parsing the whole page;
    an answer with a GraphQL error fails the run."""
    at = body.rfind(b'"nextCursor":')
    if at < 0 or b'"errors"' in body:
        raise CheckFailed(f"audience answered with an error: {body[:300]!r}")
    rest = body[at + len(b'"nextCursor":'):].lstrip()
    if rest.startswith(b"null"):
        return None
    return rest[1:rest.index(b'"', 1)].decode()


def graphql_pages(bench: Bench, purpose: str, client_id: str, *,
                  collect: list[dict[str, Any]] | None = None) -> int:
    token = bench.env.token(client_id)
    after: str | None = None
    count = 0
    while True:
        response = bench.client.graphql(AUDIENCE, {"p": purpose, "after": after}, token)
        if response.status != 200:
            raise CheckFailed(f"audience failed with {response.status}: {response.body[:300]!r}")
        if collect is not None:
            items = response.json()["data"]["audience"]["items"]
            collect.extend(items)
            count += len(items)
        after = _next_cursor(response.body)
        if after is None:
            return count


def b1(bench: Bench) -> Result:
    purpose = "marketing.email"
    expected: list[dict[str, Any]] = []
    got: list[dict[str, Any]] = []
    floor_pages(bench, purpose, EMAIL_FIELDS, collect=expected)
    graphql_pages(bench, purpose, "email-marketing", collect=got)
    if len(expected) != bench.seeded.permitted[purpose]:
        raise CheckFailed(f"B1: the floor found {len(expected):,} members, seeded "
                          f"{bench.seeded.permitted[purpose]:,}")
    compared = same_values("B1: audience items vs the floor's", got, expected)
    a, b = pair(lambda: graphql_pages(bench, purpose, "email-marketing"),
                lambda: floor_pages(bench, purpose, EMAIL_FIELDS), bench.repeats)
    return ratio_result(
        "B1", f"typed GraphQL `audience` read of {compared:,} consented members, pages of "
        "1,000 (ASGI app in process) vs raw fetch + decrypt + orjson", "<= 3x", 3.0, a, b,
        per=compared, details={"members": compared, "fields": list(EMAIL_FIELDS)},
        note="measured includes auth, the access log and JSON encoding; the floor has no "
        "log (see B4)",
        checked=[f"{compared:,} members' 4 decrypted values equal the floor's, in order "
                 "(and as many as seeded)", "every timed page checked for a GraphQL error"])


# ---------------------------------------------------------------------------------------
# B2: the streamed NDJSON export


def ndjson_export(bench: Bench, purpose: str, client_id: str, *,
                  keep: bool = False) -> tuple[int, bytes]:
    chunks: list[bytes] = []
    size = 0

    def sink(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)
        if keep:
            chunks.append(chunk)

    response = bench.client.request(
        "GET", f"/audience/{purpose}.ndjson",
        headers={"authorization": f"Bearer {bench.env.token(client_id)}"}, on_chunk=sink)
    if response.status != 200:
        raise RuntimeError(f"export failed with {response.status}: {response.body[:300]!r}")
    return size, b"".join(chunks)


def b2(bench: Bench) -> Result:
    purpose = "marketing.email"
    _, body = ndjson_export(bench, purpose, "email-marketing", keep=True)
    got = [orjson.loads(line) for line in body.splitlines()]
    expected: list[dict[str, Any]] = []
    floor_pages(bench, purpose, EMAIL_FIELDS, ndjson=True, collect=expected)
    compared = same_values("B2: NDJSON lines vs the floor's", got, expected)
    a, b = pair(lambda: ndjson_export(bench, purpose, "email-marketing"),
                lambda: floor_pages(bench, purpose, EMAIL_FIELDS, ndjson=True), bench.repeats)
    return ratio_result(
        "B2", f"streamed `GET /audience/{{purpose}}.ndjson` of {compared:,} members (ASGI "
        "app in process) vs raw fetch + decrypt + orjson NDJSON", "<= 1.5x", 1.5, a, b,
        per=compared, details={"members": compared, "bytes": len(body)},
        note="measured includes auth and the access log (one entry per page); the floor "
        "has no log",
        checked=[f"{compared:,} lines: each member's decrypted values equal the floor's, in "
                 "order (an error line would differ)"])


# ---------------------------------------------------------------------------------------
# B3: gated vs ungated execution of the same query


@strawberry.type
class PlainDenied:
    field: str
    reason: str


@strawberry.type
class PlainAddress:
    lines: list[str]
    locality: str
    region: str | None
    postal_code: str | None
    country: str


@strawberry.type
class PlainMember:
    member_number: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthdate: dt.date | None = None
    postal_address: PlainAddress | None = None
    preferred_language: str | None = None
    preferences: JSON | None = None
    denied: list[PlainDenied] = strawberry.field(default_factory=list)


@strawberry.type
class PlainPage:
    items: list[PlainMember]
    next_cursor: str | None


def plain_schema(bench: Bench) -> strawberry.Schema:
    """The same shape as the real `audience`, with no permission, no decisions, no access
    log, no signed cursor: the root resolver runs the same SQL and the same decrypts."""
    services = bench.env.services

    @strawberry.type
    class Query:
        @strawberry.field
        def audience(self, purpose: str, first: int = 100,
                     after: str | None = None) -> PlainPage:
            key = services.policy.purposes[purpose]
            requested = ["birthdate", "email", "family_name", "given_name", "member_number"]
            query = gate._joined(key, requested, uuid.UUID(after) if after else None).where(
                *gate.permitted_filter(key))
            uow = UnitOfWork(services.db.sessions)
            try:
                rows = uow.session.execute(query.order_by(gate._M.id).limit(first)).all()
            finally:
                uow.rollback()
                uow.close()
            items = []
            for row in rows:
                cipher = services.crypto.cipher(row.id, row.kek_version, row.wrapped_key)
                values = {f: (cipher.decrypt(f, getattr(row, f))
                              if getattr(row, f) is not None else None) for f in requested}
                if values["birthdate"]:
                    values["birthdate"] = dt.date.fromisoformat(values["birthdate"])
                items.append(PlainMember(**values))
            last = str(rows[-1].id) if len(rows) == first else None
            return PlainPage(items=items, next_cursor=last)

    return strawberry.Schema(query=Query, extensions=[ParserCache(maxsize=256),
                                                      ValidationCache(maxsize=256)])


def b3(bench: Bench) -> Result:
    env = bench.env
    total = min(10_000, bench.seeded.permitted["rewards.birthday"])
    pages = max(1, total // PAGE)
    total = pages * PAGE if total >= PAGE else total
    first = min(PAGE, total)
    real = build_schema(env.settings)
    plain = plain_schema(bench)
    principal = bench.principal("loyalty-engine")
    variables = {"p": "rewards.birthday", "first": first}

    def gated(collect: list[Any] | None = None) -> int:
        after, count = None, 0
        for n in range(pages):
            context = Context(services=env.services, principal=principal,
                              request_id=f"bench-b3-{n}")
            try:
                result = real.execute_sync(AUDIENCE_5, {**variables, "after": after},
                                           context_value=context)
            finally:
                context.close()
            if result.errors:
                raise CheckFailed(f"B3 gated: {result.errors}")
            page = result.data["audience"]
            count += len(page["items"])
            if collect is not None:
                collect.extend(page["items"])
            after = page["nextCursor"]
        return count

    def ungated(collect: list[Any] | None = None) -> int:
        after, count = None, 0
        for _ in range(pages):
            result = plain.execute_sync(AUDIENCE_5, {**variables, "after": after})
            if result.errors:
                raise CheckFailed(f"B3 ungated: {result.errors}")
            page = result.data["audience"]
            count += len(page["items"])
            if collect is not None:
                collect.extend(page["items"])
            after = page["nextCursor"]
        return count

    got: list[Any] = []
    expected: list[Any] = []
    gated(got)
    ungated(expected)
    compared = same_values("B3: gated vs ungated items", got, expected)
    if compared != pages * first:
        raise CheckFailed(f"B3: {compared:,} members, expected {pages * first:,}")
    a, b = pair(gated, ungated, bench.repeats)
    return ratio_result(
        "B3", f"gated vs ungated execution of the same {pages * first:,} x 5-field "
        "`audience` query (schema.execute_sync)", "<= 1.3x", 1.3, a, b, per=pages * first,
        details={"members": pages * first, "purpose": "rewards.birthday"},
        note="gated = the real schema (root permission, registration check, per-member "
        "decisions, access log, signed cursors); ungated = a plain schema of the same "
        "shape, same SQL and decrypts",
        checked=[f"{compared:,} members: the same 5 values and denied lists on both sides, "
                 "in order"])


# ---------------------------------------------------------------------------------------
# B4: the gate with and without the access log


class Unlogged(ReaderLog):
    """B4's floor: the same gated read, with the log's write left out."""

    def record(self, purpose: str, reads: Iterable[Read]) -> None:
        pass


def _log_tail(bench: Bench) -> int:
    with bench.env.engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.max(AccessLogEntry.sequence))) or 0)


def b4(bench: Bench) -> Result:
    env = bench.env
    services = env.services
    purpose = services.policy.purposes["marketing.email"]
    requested = sorted(EMAIL_FIELDS)
    actor = bench.principal("email-marketing").actor

    def read(with_log: bool, collect: list[Any] | None = None) -> int:
        """The pages' members; returns how many pages were read."""
        after, n = None, 0
        while True:
            uow = UnitOfWork(services.db.sessions)
            log = (services.access_log.reader(actor, f"bench-b4-{n}") if with_log
                   else Unlogged(services.access_log, actor, f"bench-b4-{n}"))
            try:
                page = gate.read_page(uow.session, services.crypto, services.policy, purpose,
                                      requested, first=PAGE, after=after, log=log)
            finally:
                uow.rollback()
                uow.close()
            if collect is not None:
                collect.extend({GRAPHQL[f]: d.values.get(f) for f in EMAIL_FIELDS}
                               for d in page)
            n += 1
            if len(page) < PAGE:
                return n
            after = page[-1].member_id

    logged: list[Any] = []
    unlogged: list[Any] = []
    expected: list[Any] = []
    before = _log_tail(bench)
    pages = read(True, logged)
    entries = _log_tail(bench) - before
    if entries != pages:
        raise CheckFailed(f"B4: {pages} pages read with the log wrote {entries} entries")
    before = _log_tail(bench)
    read(False, unlogged)
    if _log_tail(bench) != before:
        raise CheckFailed("B4: the unlogged read wrote to the access log")
    floor_pages(bench, "marketing.email", EMAIL_FIELDS, collect=expected)
    members = same_values("B4: logged vs unlogged read", logged, unlogged)
    same_values("B4: the gated read vs the raw floor", logged, expected)
    a, b = pair(lambda: read(True), lambda: read(False), bench.repeats)
    return ratio_result(
        "B4", f"bulk read of {members:,} members through consent.gate.read_page with "
        "its access-log entry per page vs without", "<= 1.15x", 1.15, a, b, per=members,
        details={"members": members, "pages": pages},
        checked=[f"{members:,} members: the same decrypted values with and without the log "
                 "and as the raw floor decrypts them, in order",
                 f"one access-log entry per page with the log ({pages}), none without"])


# ---------------------------------------------------------------------------------------
# B6: bulk consent check


KNOWN_SHARE = 0.95  # of the numbers checked, the share that are members


def check_numbers(bench: Bench, count: int = 10_000) -> list[str]:
    """``count`` numbers, 95% of them members' and 5% unknown (valid but unused); with
    fewer members than that (the quick run), fewer numbers in the same mix."""
    known = bench.seeded.numbers[: int(count * KNOWN_SHARE)]
    count = min(count, round(len(known) / KNOWN_SHARE))
    taken = set(known)
    unknown: list[str] = []
    index = 900_000_000
    while len(known) + len(unknown) < count:
        payload = str(10 ** 10 + index)
        number = payload + member_number.luhn_check_digit(payload)
        if number not in taken:
            unknown.append(number)
        index += 1
    return known + unknown


def floor_check(bench: Bench, purpose_key: str, numbers: list[str], actor: str) -> bytes:
    """Raw SQL of the same check: blind indexes, one joined SELECT per 1,000 numbers, the
    same decision, the same hash-chained access-log entries, orjson of the answers."""
    env = bench.env
    index = env.services.crypto.index
    purpose = env.services.policy.purposes[purpose_key]
    raw = Raw(env.kind, env.engine)
    try:
        digests: dict[str, bytes | None] = {}
        for number in numbers:
            normalised = member_number.normalise(number)
            digests[number] = index.digest("member_number", normalised) if normalised else None
        wanted = [d for d in digests.values() if d is not None]
        found: dict[bytes, Any] = {}
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start:start + 1000]
            rows = raw.fetchall(
                "SELECT m.member_number_index, m.id, m.status, m.restricted_at, c.granted, "
                "c.notice_version FROM members m LEFT JOIN consents c ON c.member_id = m.id "
                f"AND c.purpose = ? WHERE m.member_number_index IN ({raw.marks(len(chunk))})",
                [purpose_key, *chunk])
            found.update({bytes(r[0]): r for r in rows})
        raw.rollback()
        field = f"consent:{purpose_key}"
        answers, entries = [], []
        for number, digest in digests.items():
            row = found.get(digest) if digest else None
            if row is None:
                reason: str | None = "CONSENT_REQUIRED"
            elif row[2] == "erased":
                reason = "MEMBER_ERASED"
            elif not row[4]:
                reason = "CONSENT_REQUIRED"
            elif purpose.material_change and row[5] < purpose.notice_version:
                reason = "CONSENT_STALE"
            elif row[3] is not None:
                reason = "PROCESSING_RESTRICTED"
            else:
                reason = None
            answers.append({"memberNumber": number, "permitted": reason is None,
                            "reason": reason})
            if row is not None:
                entries.append((raw.to_uuid(row[1]), [field] if reason is None else [],
                                {} if reason is None else {field: reason}))
        raw.append_log(entries, principal=actor, purpose=purpose_key, request_id="bench-floor",
                       now=utcnow())
        return orjson.dumps({"data": {"consentCheck": answers}})
    finally:
        raw.close()


def _entries_since(bench: Bench, sequence: int) -> list[Any]:
    with bench.env.engine.connect() as connection:
        return list(connection.execute(
            sa.select(AccessLogEntry.principal, AccessLogEntry.purpose, AccessLogEntry.reads)
            .where(AccessLogEntry.sequence > sequence).order_by(AccessLogEntry.sequence)))


def _reads(entry: Any) -> tuple[str, str, list[Any]]:
    return entry.principal, entry.purpose, sorted(
        (r.member_id, tuple(sorted(r.returned)), tuple(sorted(r.denied.items())))
        for r in unpack(entry.reads))


def b6(bench: Bench) -> Result:
    purpose = "marketing.email"
    numbers = check_numbers(bench)
    members = set(bench.seeded.numbers)
    known = sum(1 for n in numbers if n in members)
    token = bench.env.token("email-marketing")
    actor = bench.principal("email-marketing").actor

    def service() -> bytes:
        response = bench.client.graphql(CONSENT_CHECK, {"p": purpose, "n": numbers}, token)
        if response.status != 200 or b'"errors"' in response.body:
            raise CheckFailed(f"B6: consentCheck failed: {response.status} "
                              f"{response.body[:300]!r}")
        return response.body

    before = _log_tail(bench)
    answer = orjson.loads(service())
    floor_answer = orjson.loads(floor_check(bench, purpose, numbers, actor))
    compared = same_values("B6: consentCheck answers vs the floor's",
                           answer["data"]["consentCheck"], floor_answer["data"]["consentCheck"])
    entries = _entries_since(bench, before)
    if len(entries) != 2:
        raise CheckFailed(f"B6: one call on each side wrote {len(entries)} access-log entries, "
                          "expected one each")
    if _reads(entries[0]) != _reads(entries[1]):
        raise CheckFailed("B6: the service's access-log entry differs from the floor's")
    logged = len(_reads(entries[0])[2])
    a, b = pair(service, lambda: floor_check(bench, purpose, numbers, actor), bench.repeats)
    permitted = sum(1 for x in answer["data"]["consentCheck"] if x["permitted"])
    return ratio_result(
        "B6", f"`consentCheck` of {len(numbers):,} member numbers ({known / len(numbers):.0%} "
        "members) in one call (ASGI app in process) vs raw SQL of the same check + the same "
        "access-log entry", "<= 2x", 2.0, a, b, per=len(numbers), per_label="number",
        details={"numbers": len(numbers), "members": known, "permitted": permitted},
        note="both sides write one hash-chained log entry naming every member found",
        checked=[f"{compared:,} answers (permitted, reason) equal the floor's, in order",
                 f"one access-log entry per call on each side, naming the same {logged:,} "
                 "members with the same returned and denied fields"])
