"""B7-B9: erasure, export and the retention sweep, through the service's own workers
(``subject_requests.erasure.erase_pending``,
``subject_requests.access.build_pending_exports``, ``retention.sweeper.sweep``). A target
whose module is missing reports "not available yet" instead of measuring something else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import os
import random
import statistics
import time
import tracemalloc
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.data import add_access_history, add_consent_history, analyze, seed_members
from bench.end_state import TableState, differences, end_state
from bench.env import Env, Server, open_env
from bench.measure import CheckFailed, Result, Series, ratio_result, seconds
from bench.raw import Raw
from bench.targets import Bench
from consent.models import Consent
from identity.models import PERSONAL_FIELDS, Member, SignInCode
from outbox.secrets import open_member_number
from vaultkernel.clock import utcnow
from vaultkernel.sealing import NONCE_BYTES


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _open_request(env: Env, member_id: uuid.UUID, type_: str) -> None:
    from subject_requests import lifecycle

    with env.services.db.unit_of_work() as uow:
        lifecycle.receive(uow.session, member_id, type_, jurisdiction="GDPR",
                          actor="system:bench", identity_verification="bench", now=utcnow(),
                          deadlines=env.services.request_workflow.deadlines)
        uow.commit()


def _fresh_members(bench: Bench, count: int) -> list[uuid.UUID]:
    """Active, unrestricted members nobody has used for B7/B8 yet."""
    used: set[uuid.UUID] = bench.__dict__.setdefault("_lifecycle_used", set())
    with bench.env.engine.connect() as connection:
        rows = connection.execute(sa.select(Member.id).where(
            Member.status == "active", Member.restricted_at.is_(None))
            .order_by(Member.id.desc()).limit(count + len(used) + 10)).scalars().all()
    chosen = [m for m in rows if m not in used][:count]
    used.update(chosen)
    if len(chosen) < count:
        raise RuntimeError("not enough members left for B7/B8")
    return chosen


# ---------------------------------------------------------------------------------------
# B7: erasure is O(1) in a member's history


def b7(bench: Bench, config: Any) -> Result:
    erasure = _module("subject_requests.erasure")
    what = (f"erase a member with {config.history:,} access-log entries and "
            f"{config.consent_records:,} consent records vs one with none "
            "(subject_requests.erasure.erase_pending)")
    if erasure is None or not hasattr(erasure, "erase_pending"):
        return Result("B7", what, "<= 1.5x", "not available yet",
                      note="subject_requests.erasure.erase_pending does not exist yet")
    env = bench.env
    reps = max(3, min(config.repeats, 3))
    members = _fresh_members(bench, 2 * reps + 2)
    heavy, light = members[: reps + 1], members[reps + 1:]
    bench.say(f"  B7: giving {len(heavy)} members {config.history:,} log entries and "
              f"{config.consent_records:,} consent records each ...")
    for member_id in heavy:
        add_access_history(env, member_id, config.history)
        add_consent_history(env, member_id, config.consent_records)
    analyze(env)

    def erase(member_id: uuid.UUID) -> float:
        _open_request(env, member_id, "erasure")
        started = time.perf_counter()
        done = erasure.erase_pending(env.services.db, env.services.erasure_kit, now=utcnow())
        elapsed = time.perf_counter() - started
        with env.engine.connect() as connection:
            status = connection.scalar(sa.select(Member.status).where(Member.id == member_id))
        if done != 1 or status != "erased":
            raise RuntimeError(f"B7: erasure did not erase the member ({done}, {status})")
        return elapsed

    erase(heavy[0])  # warm-up, one of each
    erase(light[0])
    a, b = Series(), Series()
    for n in range(reps):
        pairs = ((heavy[n + 1], a), (light[n + 1], b))
        for member_id, series in (pairs if n % 2 == 0 else pairs[::-1]):
            series.samples.append(erase(member_id))
    return ratio_result("B7", what, "<= 1.5x", 1.5, a, b,
                        details={"access_log_entries": config.history,
                                 "consent_records": config.consent_records},
                        checked=["every erasure erased its member (status erased, one "
                                 "request done)"])


# ---------------------------------------------------------------------------------------
# B8: an export's memory does not grow with the member's access log


def b8(bench: Bench, config: Any) -> Result:
    access = _module("subject_requests.access")
    what = (f"export (subject_requests.access.build_pending_exports) of a member with "
            f"{config.history:,} access-log entries: tracemalloc peak over an empty export")
    if access is None or not hasattr(access, "build_pending_exports"):
        return Result("B8", what, "< 50 MB over an empty export", "not available yet",
                      note="subject_requests.access.build_pending_exports does not exist yet")
    env = bench.env
    heavy, empty = _fresh_members(bench, 2)
    add_access_history(env, heavy, config.history)
    analyze(env)
    reps = max(3, min(config.repeats, 3))

    def export(member_id: uuid.UUID) -> tuple[float, float]:
        _open_request(env, member_id, "access")
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        try:
            done = access.build_pending_exports(env.services.db, env.services.exports,
                                                now=utcnow())
        finally:
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
        if done != 1:
            raise RuntimeError(f"B8: the export did not complete ({done})")
        return peak / 2**20, elapsed

    heavy_runs, empty_runs = [], []
    for n in range(reps):
        order = ((heavy, heavy_runs), (empty, empty_runs))
        for member_id, runs in (order if n % 2 == 0 else order[::-1]):
            runs.append(export(member_id))
    heavy_mb = statistics.median(r[0] for r in heavy_runs)
    empty_mb = statistics.median(r[0] for r in empty_runs)
    growth = heavy_mb - empty_mb
    heavy_s = statistics.median(r[1] for r in heavy_runs)
    empty_s = statistics.median(r[1] for r in empty_runs)
    return Result(
        "B8", what, "< 50 MB over an empty export", "pass" if growth < 50 else "falls short",
        measured=f"peak {heavy_mb:.1f} MB ({seconds(heavy_s)} traced)",
        floor=f"peak {empty_mb:.1f} MB ({seconds(empty_s)} traced)", ratio=None, unit="MB",
        ratio_text=f"+{growth:.1f} MB",
        details={"heavy_peak_mb": [r[0] for r in heavy_runs],
                 "empty_peak_mb": [r[0] for r in empty_runs], "growth_mb": growth,
                 "heavy_seconds": [r[1] for r in heavy_runs],
                 "empty_seconds": [r[1] for r in empty_runs],
                 "access_log_entries": config.history},
        note="times are under tracemalloc (slower than normal)")


# ---------------------------------------------------------------------------------------
# B9: the retention sweep vs raw SQL doing the same updates

EXPIRED_SHARE = 0.10


def _sweep_data(env: Env, count: int, now: dt.datetime, say: Callable[[str], None]) -> int:
    """``count`` members, 10% inactive for four years and told 40 days ago (so the
    inactivity rule erases them now), the rest active within the last 300 days. The
    clients get webhooks, so each erasure is an event for its recipients."""
    rule = env.services.policy.retention["inactive_members"]
    expired_at = rule.after.before(now) - dt.timedelta(days=30)

    def last_activity(rng: random.Random, index: int) -> dt.datetime:
        if rng.random() < EXPIRED_SHARE:
            return expired_at
        return now - dt.timedelta(days=rng.randint(0, 300), seconds=rng.randint(0, 86_399))

    step = max(count // 5, 1)

    def progress(done: int) -> None:
        if count >= 100_000 and done % step < 5_000 and done != count:
            say(f"  B9: {done:,} / {count:,} members")

    seed_members(env, count, seed=9, last_activity=last_activity, sample=0,
                 progress=progress)
    with env.engine.begin() as connection:
        connection.execute(sa.update(Member).where(Member.last_activity_at <= expired_at)
                           .values(inactivity_notice_at=now - dt.timedelta(days=40)))
        # Withdrawals are recent, so no other rule (birthdate without consent) is due: the
        # sweep's only work is the inactivity rule, which is what the floor does.
        connection.execute(sa.update(Consent).where(Consent.granted.is_(False))
                           .values(updated_at=now - dt.timedelta(days=1)))
        connection.execute(sa.text("UPDATE clients SET webhook_url = :url"),
                           {"url": "http://127.0.0.1:9/hook"})
        expired = connection.scalar(sa.select(sa.func.count()).select_from(Member).where(
            Member.inactivity_notice_at.is_not(None)))
        # Every 20th expired member asked for a sign-in code a minute ago (too recent for
        # the sign-in code rule): erasure deletes it and its audit record counts it.
        indexes = connection.scalars(sa.select(Member.email_index).where(
            Member.inactivity_notice_at.is_not(None)).order_by(Member.id)).all()[::20]
        if indexes:
            connection.execute(sa.insert(SignInCode), [
                {"id": uuid.UUID(int=random.Random(n).getrandbits(128), version=4),
                 "email_index": index, "code_hash": hashlib.sha256(index).digest(),
                 "created_at": now - dt.timedelta(minutes=1),
                 "expires_at": now + dt.timedelta(minutes=10), "attempts": 0}
                for n, index in enumerate(indexes)])
    analyze(env)
    return int(expired or 0)


def _counts(env: Env) -> dict[str, int]:
    with env.engine.connect() as connection:
        def count(sql: str) -> int:
            return int(connection.scalar(sa.text(sql)) or 0)

        return {
            "erased": count("SELECT COUNT(*) FROM members WHERE status = 'erased'"),
            "consents": count("SELECT COUNT(*) FROM consents"),
            "objections": count("SELECT COUNT(*) FROM objections"),
            "events": count("SELECT COUNT(*) FROM outbox_events"),
            "deliveries": count("SELECT COUNT(*) FROM outbox_deliveries"),
            "sealed": count("SELECT COUNT(*) FROM outbox_events "
                            "WHERE sealed_member_number IS NOT NULL"),
            "audit": count("SELECT COUNT(*) FROM audit_events WHERE action = 'member.erased'"),
            "suppressed": count("SELECT COUNT(*) FROM suppression_list"),
            "ciphertexts": count("SELECT COUNT(*) FROM members WHERE wrapped_key IS NOT NULL"),
            "birthdates": count("SELECT COUNT(*) FROM members WHERE birthdate IS NOT NULL"),
            "consent_records": count("SELECT COUNT(*) FROM consent_records"),
            "scrubbed_evidence": count("SELECT COUNT(*) FROM consent_records WHERE "
                                       "CAST(evidence AS TEXT) LIKE '%scrubbed_at_erasure%'"),
        }


INDEXED = ("email", "phone", "member_number")
# What an erasure keeps (the audit record says so), written out by hand: when the real
# record changes, B9's end-state check fails until the floor follows.
KEPT = ["tombstone", "consent_records", "access_log", "requests", "audit_trail",
        "outbox_events", "deliveries"]


def floor_sweep(env: Env, now: dt.datetime, batch: int = 1000) -> int:
    """The inactivity rule's work in hand-written SQL, in the same bounded batches: find
    the due members (not under hold), read their consent records, open the member number
    and email (the only per-member crypto), then one statement per table per batch:
    suppression hashes, sign-in codes, scrubbed consent evidence, consent state,
    objections (each DELETE counting per member with RETURNING, for the audit record), the
    shredded member rows, outbox events with their deliveries, export archives and the
    audit records, the same as ``retention.shredding.erase_members`` writes them. B9's
    end-state check compares every table the two leave behind."""
    services = env.services
    rule = services.policy.retention["inactive_members"]
    cutoff = rule.after.before(now)
    notice_cutoff = now - dt.timedelta(days=rule.notice_days)
    keyring, crypto, policy = services.keyring, services.crypto, services.policy
    seal_key = AESGCM(keyring.derive("outbox-member-number"))
    suppression_key = keyring.derive("suppression")
    direct = set(policy.direct_marketing)
    raw = Raw(env.kind, env.engine)
    always = {p.key for p in policy.purposes.values() if not p.consent_based}
    nulls = ", ".join(f"{f} = NULL" for f in (*PERSONAL_FIELDS, "wrapped_key", "kek_version",
                                               *(f"{k}_index" for k in INDEXED)))
    present = ", ".join(f"{c} IS NOT NULL" for c in (*PERSONAL_FIELDS,
                                                     *(f"{k}_index" for k in INDEXED)))
    facts = raw.json({"erasedAt": now.isoformat(), "retentionRule": rule.name})
    at = raw.ts(now)
    total = 0
    try:
        registered = []
        for client_id, purposes in raw.fetchall(
                "SELECT client_id, allowed_purposes FROM clients WHERE active = ? AND "
                "webhook_url IS NOT NULL AND role = 'client'", [True]):
            registered.append((client_id, set(orjson.loads(purposes)
                                              if isinstance(purposes, str) else purposes)))
        raw.rollback()
        recipients_of: dict[frozenset[str], list[str]] = {}
        while True:
            rows = raw.fetchall(
                "SELECT id, kek_version, wrapped_key, member_number, email, email_index, "
                f"{present} FROM members WHERE status = 'active' AND last_activity_at < ? AND "
                "inactivity_notice_at IS NOT NULL AND inactivity_notice_at <= ? AND id NOT IN "
                "(SELECT member_id FROM legal_holds WHERE lifted_at IS NULL AND "
                "(expires_at IS NULL OR expires_at > ?)) LIMIT ?",
                [raw.ts(cutoff), raw.ts(notice_cutoff), raw.ts(now), batch])
            if not rows:
                break
            ids = [r[0] for r in rows]
            marks = raw.marks(len(ids))
            latest: dict[tuple[Any, str], bool] = {}
            granted: dict[Any, set[str]] = defaultdict(set)
            for member_id, purpose, was_granted in raw.fetchall(
                    f"SELECT member_id, purpose, granted FROM consent_records "
                    f"WHERE member_id IN ({marks}) ORDER BY id", ids):
                if purpose in direct:
                    latest[(member_id, purpose)] = bool(was_granted)
                if was_granted:
                    granted[member_id].add(purpose)
            opted_out = {m for (m, _), g in latest.items() if not g}
            suppressions, events, deliveries, erased = [], [], [], []
            for row in rows:
                member_id = raw.to_uuid(row[0])
                cipher = crypto.cipher(member_id, row[1], row[2])
                number = cipher.decrypt("member_number", row[3]) if row[3] else None
                email = cipher.decrypt("email", row[4]) if row[4] else None
                suppressed = email is not None and row[0] in opted_out
                if email is not None and suppressed:
                    suppressions.append((hmac.new(suppression_key, email.lower().encode(),
                                                  hashlib.sha256).digest(), at,
                                         "marketing_opt_out"))
                purposes = frozenset(always | granted.get(row[0], set()))
                if purposes not in recipients_of:
                    recipients_of[purposes] = sorted(c for c, p in registered if purposes & p)
                to_notify = recipients_of[purposes]
                event_id = uuid.uuid4()
                sealed = None
                if to_notify and number:
                    nonce = os.urandom(NONCE_BYTES)
                    sealed = nonce + seal_key.encrypt(nonce, number.encode(), None)
                events.append((raw.uuid(event_id), "member.erased", row[0], facts, sealed, at))
                deliveries += [(raw.uuid(event_id), c, "pending", 0, at) for c in to_notify]
                erased.append((row, to_notify, suppressed, number is not None))
            raw.executemany("INSERT INTO suppression_list (email_hash, added_at, reason) "
                            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", suppressions)
            owner = {r[5]: r[0] for r in rows if r[5] is not None}
            codes = Counter(owner[bytes(i)] for (i,) in raw.fetchall(
                f"DELETE FROM sign_in_codes WHERE email_index IN ({raw.marks(len(owner))}) "
                "RETURNING email_index", list(owner))) if owner else Counter()
            if owner:
                raw.execute(f"DELETE FROM sign_in_guesses WHERE email_index IN "
                            f"({raw.marks(len(owner))})", list(owner))
            scrubbed = []
            for record_id, evidence in raw.fetchall(
                    f"SELECT id, evidence FROM consent_records WHERE member_id IN ({marks})",
                    ids):
                evidence = orjson.loads(evidence) if isinstance(evidence, str) else evidence
                if evidence and (evidence.get("ip_hash") or evidence.get("user_agent")):
                    scrubbed.append((raw.json({"gpc": bool(evidence.get("gpc")),
                                               "scrubbed_at_erasure": True}), record_id))
            raw.executemany("UPDATE consent_records SET evidence = ? WHERE id = ?", scrubbed)
            states = Counter(m for (m,) in raw.fetchall(
                f"DELETE FROM consents WHERE member_id IN ({marks}) RETURNING member_id", ids))
            objections = Counter(m for (m,) in raw.fetchall(
                f"DELETE FROM objections WHERE member_id IN ({marks}) RETURNING member_id",
                ids))
            raw.execute(f"UPDATE members SET {nulls}, status = 'erased', erased_at = ?, "
                        f"updated_at = ?, last_activity_at = ? WHERE id IN ({marks})",
                        [at, at, at, *ids])
            raw.executemany("INSERT INTO outbox_events (id, type, member_id, facts, "
                            "sealed_member_number, created_at, request_id) "
                            "VALUES (?, ?, ?, ?, ?, ?, NULL)", events)
            raw.executemany("INSERT INTO outbox_deliveries (event_id, client_id, state, "
                            "attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?)", deliveries)
            archives = dict(raw.fetchall(
                f"SELECT member_id, COUNT(*) FROM export_archives WHERE member_id IN ({marks}) "
                "GROUP BY member_id", ids))
            audits = []
            for row, to_notify, suppressed, captured in erased:
                flags = row[6:]
                details = {
                    "retention_rule": rule.name, "recipients": to_notify,
                    "destroyed": {
                        "data_key": True, "kek_version": row[1],
                        "attributes": [f for f, has in zip(
                            PERSONAL_FIELDS, flags[:len(PERSONAL_FIELDS)], strict=True) if has],
                        "blind_indexes": [k for k, has in zip(
                            INDEXED, flags[len(PERSONAL_FIELDS):], strict=True) if has],
                        "sign_in_codes": codes[row[0]],
                        "export_archives": archives.get(row[0], 0),
                        "mail_messages": 0,  # the bench's members were never mailed
                        "consent_state_rows": states[row[0]], "objections": objections[row[0]],
                        "last_activity": True},
                    "kept": [*KEPT, *(["suppression_hash"] if suppressed else [])],
                    "suppressed": suppressed, "member_number_captured": captured}
                audits.append((at, "system:retention", "member.erased", row[0],
                               raw.json(details)))
            raw.executemany("INSERT INTO audit_events (at, actor, action, member_id, details) "
                            "VALUES (?, ?, ?, ?, ?)", audits)
            raw.execute(f"DELETE FROM export_archives WHERE member_id IN ({marks})", ids)
            raw.commit()
            total += len(rows)
    finally:
        raw.close()
    return total


@dataclass
class SweepRun:
    seconds: float
    erased: int
    state: dict[str, TableState] | None = None  # when inspected
    counts: dict[str, int] = field(default_factory=dict)


def sweep_copy(side: str, kind: str, server: Server, workdir: Path, keyring_file: Path,
               now: dt.datetime, *, name: str, inspect: bool,
               template: str = "sweep") -> SweepRun:
    """One side of B9 on a fresh copy of the sweep data set: the service's sweep
    (``side="service"``) or the floor; timed; with ``inspect`` the copy's end state
    (:func:`bench.end_state.end_state`) is read afterwards. The copy is dropped."""
    from retention import sweeper

    copy = open_env(kind, server.create(name, template=template), workdir,
                    keyring_file=keyring_file, migrate_first=False)
    try:
        started = time.perf_counter()
        if side == "service":
            report = sweeper.sweep(copy.services.db, copy.services.sweep_kit, now=now)
            erased = report.counts().get("inactive_members", 0)
        else:
            erased = floor_sweep(copy, now)
        done = SweepRun(time.perf_counter() - started, erased)
        if inspect:
            keyring = copy.services.keyring
            done.state = end_state(copy.engine,
                                   lambda sealed: open_member_number(keyring, sealed))
            done.counts = _counts(copy)
    finally:
        copy.close()
        server.drop(name)
    return done


def b9(kind: str, server: Server, workdir: Path, keyring_file: Path, config: Any,
       say: Callable[[str], None]) -> Result:
    sweeper = _module("retention.sweeper")
    count = config.sweep_members
    what = (f"retention sweep (retention.sweeper.sweep) over {count:,} members with 10% "
            "expired vs raw SQL doing the same updates")
    if sweeper is None or not hasattr(sweeper, "sweep"):
        return Result("B9", what, "<= 2x", "not available yet",
                      note="retention.sweeper.sweep does not exist yet")
    now = utcnow()
    started = time.perf_counter()
    env = open_env(kind, server.create("sweep"), workdir, keyring_file=keyring_file)
    try:
        say(f"  B9: seeding {count:,} members ...")
        expired = _sweep_data(env, count, now, say)
    finally:
        env.close()
    say(f"  B9: {expired:,} expired members ready in {time.perf_counter() - started:.0f} s")
    reps = 3 if config.quick or count >= 500_000 else config.repeats
    outcomes: dict[str, dict[str, int]] = {}
    states: dict[str, dict[str, TableState]] = {}

    def run(side: str, n: int) -> float:
        done = sweep_copy(side, kind, server, workdir, keyring_file, now,
                          name=f"sweep_{side}_{n}", inspect=n == 0)
        if done.erased != expired:
            raise CheckFailed(f"B9 {side}: erased {done.erased:,}, expected {expired:,}")
        if done.state is not None:  # the end state of the first run of each side
            states[side], outcomes[side] = done.state, done.counts
        return done.seconds

    a, b = Series(), Series()
    for n in range(reps):
        order = (("service", a), ("floor", b))
        for side, series in (order if n % 2 == 0 else order[::-1]):
            series.samples.append(run(side, n))
            say(f"  B9 {side} #{n + 1}: {seconds(series.samples[-1])}")
        if n == 0:
            different = differences(states["service"], states["floor"])
            if different:
                server.drop("sweep")
                raise CheckFailed(
                    "B9: the service's sweep and the floor leave different rows in "
                    + ", ".join(f"{t} ({x} vs {y} rows)" for t, (x, y) in different.items()))
    server.drop("sweep")
    rows = sum(s.rows for s in states["service"].values())
    return ratio_result(
        "B9", what, "<= 2x", 2.0, a, b, per=expired, per_label="erased member",
        details={"members": count, "expired": expired, "service_outcome": outcomes["service"],
                 "floor_outcome": outcomes["floor"],
                 "tables": {t: s.rows for t, s in states["service"].items()}},
        note="the sweep runs every rule (only the inactivity rule has work here)",
        checked=[f"both sides erase the same {expired:,} members and leave the same rows: "
                 f"{len(states['service'])} tables, {rows:,} rows, compared by digest "
                 "(members, consent state and records, suppressions, events and deliveries "
                 "with the sealed numbers opened, audit records, ...)"])
