"""B10 and B11: one request at a time through the real ASGI app in process (middleware,
bearer token, routing, strawberry, the gated read and its access-log entry, JSON), against
a hand-written floor doing the same database, crypto and log work on one DB-API
connection: a raw SELECT, unwrap the member's data key and decrypt the requested fields,
one hash-chained access-log entry (one INSERT, the chain's tail remembered, as the
service's writer does), orjson.

- B10: ``me { memberNumber givenName familyName email phone birthdate preferredLanguage }``
  for signed-in members (member tokens, as the sign-in endpoint issues them).
- B11: one client's ``memberData(purpose: "marketing.email", memberNumber: $n)
  { givenName familyName email }`` (the query of B5, without concurrency).

Before timing, each target checks, member by member, that both sides answer the same
values and write the same access-log entry (principal, purpose, members, returned and
denied fields), exactly one per answer and none for an unknown member number; and every
timed answer of the service is checked for a GraphQL error.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

from audit.chain import unpack
from audit.models import AccessLogEntry
from bench.asgi import Response
from bench.data import number_for
from bench.floor_app import ProfileFloor
from bench.load import QUERY
from bench.measure import CheckFailed, Result, latencies, p50_result
from bench.raw import Raw
from bench.targets import Bench
from identity.members import SELF_SERVICE
from identity.models import Member
from vaultkernel.clock import utcnow

ME = ("query { me { memberNumber givenName familyName email phone birthdate "
      "preferredLanguage } }")
ME_FIELDS = ("member_number", "given_name", "family_name", "email", "phone", "birthdate",
             "preferred_language")
ME_NAMES = ("memberNumber", "givenName", "familyName", "email", "phone", "birthdate",
            "preferredLanguage")
MEMBERS = 50  # B10: signed-in members taking turns
PURPOSE = "marketing.email"


def _sizes(bench: Bench) -> tuple[int, int]:
    """(blocks, requests per block) per side."""
    return (4, 100) if bench.quick else (6, 500)


def call(bench: Bench, query: str, variables: dict[str, Any], token: str,
         request_id: str) -> Response:
    return bench.client.request(
        "POST", "/graphql", body=orjson.dumps({"query": query, "variables": variables}),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json",
                 "x-request-id": request_id})


def answered(response: Response, what: str) -> Any:
    if response.status != 200 or b'"errors"' in response.body:
        raise CheckFailed(f"{what}: {response.status} {response.body[:300]!r}")
    return response.json()


def _entries(bench: Bench, after: int) -> list[Any]:
    with bench.env.engine.connect() as connection:
        return list(connection.execute(
            sa.select(AccessLogEntry.request_id, AccessLogEntry.principal,
                      AccessLogEntry.purpose, AccessLogEntry.reads)
            .where(AccessLogEntry.sequence > after)))


def _tail(bench: Bench) -> int:
    with bench.env.engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.max(AccessLogEntry.sequence))) or 0)


def same_work(bench: Bench, target: str,
              cases: list[tuple[str, Callable[[str], Any], Callable[[str], Any]]]) -> int:
    """For each case (label, service, floor; each called with a request id): the same
    answer, and the same access-log entry (or none on both sides), exactly one per
    answer. Returns how many cases were compared."""
    before = _tail(bench)
    for n, (label, service, floor) in enumerate(cases):
        mine, theirs = service(f"{target}-check-s-{n:05d}"), floor(f"{target}-check-f-{n:05d}")
        if mine != theirs:
            raise CheckFailed(f"{target}: {label}: the service answered {mine!r}, the floor "
                              f"{theirs!r}")
    entries = _entries(bench, before)
    counts = Counter(e.request_id for e in entries)
    if any(n > 1 for n in counts.values()):
        raise CheckFailed(f"{target}: an answer wrote more than one access-log entry")
    foreign = [r for r in counts if not r.startswith(f"{target}-check-")]
    if foreign:
        raise CheckFailed(f"{target}: access-log entries of requests not made: {foreign[:3]}")
    written = {e.request_id: (e.principal, e.purpose, sorted(
        (r.member_id, tuple(sorted(r.returned)), tuple(sorted(r.denied.items())))
        for r in unpack(e.reads))) for e in entries}
    for n, (label, _, _) in enumerate(cases):
        mine = written.get(f"{target}-check-s-{n:05d}")
        theirs = written.get(f"{target}-check-f-{n:05d}")
        if mine != theirs:
            raise CheckFailed(f"{target}: {label}: the service logged {mine!r}, the floor "
                              f"{theirs!r}")
    return len(cases)


# ---------------------------------------------------------------------------------------
# B10: me


class MeFloor:
    """``me``'s work by hand: the member's row by id, unwrap + decrypt, one log entry."""

    def __init__(self, raw: Raw, bench: Bench):
        self.raw = raw
        self.crypto = bench.env.services.crypto
        self.sql = raw.sql(f"SELECT kek_version, wrapped_key, {', '.join(ME_FIELDS)} "
                           "FROM members WHERE id = ?")

    def answer(self, member_id: uuid.UUID, request_id: str) -> bytes:
        cursor = self.raw.cursor()
        cursor.execute(self.sql, (self.raw.uuid(member_id),))
        row = cursor.fetchone()
        cursor.close()
        if row is None or row[1] is None:
            raise RuntimeError("B10 floor: the member is gone")
        cipher = self.crypto.cipher(member_id, row[0], row[1])
        values = {name: cipher.decrypt(field, blob) if blob is not None else None
                  for name, field, blob in zip(ME_NAMES, ME_FIELDS, row[2:], strict=True)}
        self.raw.append_log([(member_id, list(ME_FIELDS), {})],
                            principal=f"member:{member_id}", purpose=SELF_SERVICE,
                            request_id=request_id, now=utcnow())
        return orjson.dumps({"data": {"me": values}})


def b10(bench: Bench) -> Result:
    env = bench.env
    with env.engine.connect() as connection:
        ids = list(connection.scalars(sa.select(Member.id).where(
            Member.status == "active").order_by(Member.id).limit(MEMBERS)))
    tokens = [env.services.issuer.issue(subject=str(m), role="member", ttl=6 * 3600,
                                        client_id="membervault-sign-in")[0] for m in ids]
    raw = Raw(env.kind, env.engine, autocommit=True)
    try:
        floor = MeFloor(raw, bench)
        compared = same_work(bench, "b10", [
            (f"member {m}",
             lambda r, t=t: answered(call(bench, ME, {}, t, r), "B10 me")["data"]["me"],
             lambda r, m=m: orjson.loads(floor.answer(m, r))["data"]["me"])
            for m, t in zip(ids, tokens, strict=True)])

        def service(n: int) -> None:
            answered(call(bench, ME, {}, tokens[n % len(tokens)], secrets.token_hex(8)),
                     "B10 me")

        def hand(n: int) -> None:
            floor.answer(ids[n % len(ids)], secrets.token_hex(8))

        blocks, per_block = _sizes(bench)
        a, b = latencies(service, hand, blocks=blocks, per_block=per_block)
    finally:
        raw.close()
    return p50_result(
        "B10", f"`me` ({len(ME_FIELDS)} fields) for {len(ids)} signed-in members taking "
        "turns, one request at a time (ASGI app in process) vs raw SELECT by id + unwrap + "
        f"decrypt + one access-log entry + orjson", "<= 2x", 2.0, a, b,
        details={"members": len(ids), "requests_per_side": len(a)},
        note="p50 of single requests in alternating blocks; the floor verifies no token",
        checked=[f"{compared} members: the same `me` values and the same access-log entry "
                 "(principal, purpose self_service, fields), one per answer",
                 "every timed answer checked for a GraphQL error"])


# ---------------------------------------------------------------------------------------
# B11: one client's memberData


def b11(bench: Bench) -> Result:
    env = bench.env
    token = env.token("email-marketing")
    purpose = env.services.policy.purposes[PURPOSE]
    permitted = bench.seeded.email_numbers[:1000]
    allowed = set(permitted)
    others = [n for n in bench.seeded.numbers if n not in allowed][:10]
    unknown = [number_for(10 ** 9 + k) for k in range(2)]
    bodies = {n: orjson.dumps({"query": QUERY, "variables": {"p": PURPOSE, "n": n}})
              for n in [*permitted, *others, *unknown]}
    raw = Raw(env.kind, env.engine, autocommit=True)
    try:
        floor = ProfileFloor(raw, env.services.crypto, purpose)

        def service_answer(number: str, request_id: str) -> Any:
            response = call(bench, QUERY, {"p": PURPOSE, "n": number}, token, request_id)
            return answered(response, "B11 memberData")["data"]["memberData"]

        def floor_answer(number: str, request_id: str) -> Any:
            return orjson.loads(floor.answer(bodies[number], request_id))["data"]["memberData"]

        cases = [*permitted[:40], *others, *unknown]
        compared = same_work(bench, "b11", [
            (f"member number {n}", lambda r, n=n: service_answer(n, r),
             lambda r, n=n: floor_answer(n, r)) for n in cases])
        if any(v is None for n in permitted[:40]
               for v in service_answer(n, f"b11-values-{n}").values()):
            raise CheckFailed("B11: a consenting member's answer has a missing value")

        def service(n: int) -> None:
            number = permitted[n % len(permitted)]
            answered(call(bench, QUERY, {"p": PURPOSE, "n": number}, token,
                          secrets.token_hex(8)), "B11 memberData")

        def hand(n: int) -> None:
            floor.answer(bodies[permitted[n % len(permitted)]], secrets.token_hex(8))

        blocks, per_block = _sizes(bench)
        a, b = latencies(service, hand, blocks=blocks, per_block=per_block)
    finally:
        raw.close()
    return p50_result(
        "B11", f"one client's `memberData` ({PURPOSE}, 3 fields) for {len(permitted):,} "
        "consenting members in turn, one request at a time (ASGI app in process) vs the "
        "floor of B5 in process: raw SELECT by blind index + decision + unwrap + 3 decrypts "
        "+ one access-log entry + orjson", "<= 2x", 2.0, a, b,
        details={"members": len(permitted), "requests_per_side": len(a)},
        note="p50 of single requests in alternating blocks; the floor verifies no token",
        checked=[f"{compared} member numbers (40 consenting, {len(others)} not, "
                 f"{len(unknown)} unknown): the same answer and the same access-log entry, "
                 "one per member found, none for an unknown number",
                 "every timed answer checked for a GraphQL error"])
