"""Gated reads for clients: load in bulk, decide purely, log, decrypt only what is allowed.

A page of members costs a constant number of statements: one for members with their
consent, objection and key columns, and one access-log entry for the whole answer,
committed before any value is decrypted or returned (rule 2). Every function here that
answers about members takes the reader's log; none answers without writing it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Select, and_, bindparam, select, true
from sqlalchemy.orm import Session

from audit.access_log import ReaderLog
from audit.chain import Read, ReadGroups
from consent.decisions import NOBODY, AccessDecision, MemberState, decide, member_reason
from consent.models import Consent, Objection
from identity import member_number
from identity.encryption import MemberCrypto
from identity.models import PERSONAL_FIELDS, Member
from identity.validation import normalise_email, normalise_phone
from vaultkernel.database import read_rows
from vaultkernel.planner import likely
from vaultkernel.policy import Policy, Purpose

MAX_PAGE = 1000
MAX_CONSENT_CHECK = 10_000
JSON_FIELDS = {"postal_address", "preferences"}


class MemberData(NamedTuple):
    """What one read returns: allowed values (decrypted) and denied fields with reasons.
    (A named tuple: a page makes a thousand, and a frozen dataclass costs twice as much.)"""

    member_id: uuid.UUID | None
    values: dict[str, Any]
    decision: AccessDecision


# Table columns, not ORM attributes: these statements load rows, never entities, and the
# ORM's per-statement compile step (taken for any statement naming mapped attributes)
# costs about as much as a single-member read itself. They run through
# ``vaultkernel.database.read_rows``: in the unit of work's transaction when it has one,
# otherwise outside any (one round trip), past the ORM's execution hooks either way.
_MEMBERS, _CONSENTS, _OBJECTIONS = Member.__table__, Consent.__table__, Objection.__table__
_M, _C, _O = _MEMBERS.c, _CONSENTS.c, _OBJECTIONS.c


def _columns(requested: Iterable[str]) -> list[Any]:
    wanted = [_M[f] for f in requested if f in PERSONAL_FIELDS]
    return [_M.id, _M.status, _M.restricted_at, _M.kek_version, _M.wrapped_key, _C.granted,
            _C.notice_version, _O.purpose.label("objection"), *wanted]


# Where _columns puts each value in a row: the bulk path reads rows by position.
_ID, _STATUS, _RESTRICTED, _KEK, _WRAPPED, _GRANTED, _VERSION, _OBJECTION = range(8)
_FIRST_FIELD = 8


def _joined(purpose: Purpose, requested: Sequence[str], after: Any = None) -> Select[Any]:
    """Members with their consent and objection for the purpose; with ``after``, only
    members past it, and the consents and objections read from there too."""
    consent_on = [_C.member_id == _M.id, _C.purpose == purpose.key]
    objection_on = [_O.member_id == _M.id, _O.purpose == purpose.key]
    query = select(*_columns(requested))
    if after is not None:
        # Implied by the join, but said on each table, so that no plan reads the
        # consents (or objections) of the pages before this one.
        query = query.where(_M.id > after)
        consent_on.append(_C.member_id > after)
        objection_on.append(_O.member_id > after)
    return query.select_from(_MEMBERS.outerjoin(_CONSENTS, and_(*consent_on))
                             .outerjoin(_OBJECTIONS, and_(*objection_on)))


_Shape = tuple[bool, bool, bool, bool, Any]


def _shape(row: Any) -> _Shape:
    """What decides about the member of a row, as a key: members of equal shape get equal
    decisions, so bulk reads decide once per shape."""
    return (row[_STATUS] == "erased", row[_RESTRICTED] is not None,
            row[_OBJECTION] is not None, bool(row[_GRANTED]), row[_VERSION])


def _state(shape: _Shape) -> MemberState:
    erased, restricted, objected, granted, version = shape
    return MemberState(exists=True, erased=erased, restricted=restricted, objected=objected,
                       consent_granted=granted, consent_version=version)


def _positions(requested: Iterable[str]) -> dict[str, int]:
    """Where ``_columns(requested)`` puts each requested attribute in a row."""
    return {name: _FIRST_FIELD + n
            for n, name in enumerate(f for f in requested if f in PERSONAL_FIELDS)}


_Fields = tuple[tuple[str, int, bool], ...]  # (attribute, row position, JSON?)


def _fields(decision: AccessDecision, positions: dict[str, int]) -> _Fields:
    return tuple((name, positions[name], name in JSON_FIELDS) for name in decision.allowed)


def _decrypt(crypto: MemberCrypto, row: Any, fields: _Fields) -> dict[str, Any]:
    """The allowed values of a row, decrypted (nothing is unwrapped when none is allowed)."""
    if not fields:
        return {}
    cipher = crypto.cipher(row[_ID], row[_KEK], row[_WRAPPED])
    values: dict[str, Any] = {}
    for name, at, as_json in fields:
        blob = row[at]
        if blob is None:
            values[name] = None
        else:
            text = cipher.decrypt(name, blob)
            values[name] = orjson.loads(text) if as_json else text
    return values


@lru_cache(maxsize=1024)
def _lookup(purpose: Purpose, requested: tuple[str, ...], kind: str) -> Select[Any]:
    """The single-member statement, built once per (purpose, fields, key kind): building
    the joined select costs more than running it on the hot single-profile path."""
    index_column = {"email": _M.email_index, "phone": _M.phone_index,
                    "member_number": _M.member_number_index}[kind]
    return _joined(purpose, requested).where(index_column == bindparam("digest"))


def _lookup_key(kind: str, raw: str, default_region: str) -> str | None:
    try:
        if kind == "email":
            return normalise_email(raw)
        if kind == "phone":
            return normalise_phone(raw, default_region)
    except Exception:  # noqa: BLE001  (a malformed key finds nobody, like an unknown one)
        return None
    return member_number.normalise(raw)


def _read(member_id: uuid.UUID, decision: AccessDecision) -> Read:
    return Read(member_id, decision.allowed, decision.denied)


def read_one(session: Session, crypto: MemberCrypto, policy: Policy, purpose: Purpose,
             requested: Sequence[str], *, kind: str, key: str, default_region: str,
             log: ReaderLog) -> MemberData:
    """One member by email, phone or member number; an unknown key is decided like a
    member without consent (no existence oracle) and names nobody in the log."""
    normalised = _lookup_key(kind, key, default_region)
    digest = crypto.index.digest(kind, normalised) if normalised else b"\x00" * 32
    rows = read_rows(session, _lookup(purpose, tuple(requested), kind), {"digest": digest})
    row = rows[0] if rows else None
    covered = policy.attributes_of(purpose.key)
    if row is None:
        decision = decide(purpose, covered, NOBODY, requested)
        log.record(purpose.key, [])  # the same write as for a member: no timing oracle
        return MemberData(None, {}, decision)
    decision = decide(purpose, covered, _state(_shape(row)), requested)
    log.record(purpose.key, [_read(row.id, decision)])
    return MemberData(row.id, _decrypt(crypto, row, _fields(decision, _positions(requested))),
                      decision)


def permitted_filter(purpose: Purpose) -> list[Any]:
    """SQL conditions equal to ``member_reason(...) is None`` for the bulk path."""
    # likely(): no plan may read the pages by the status index (vaultkernel.planner).
    conditions: list[Any] = [likely(_M.status == "active"), _M.restricted_at.is_(None)]
    if purpose.consent_based:
        conditions.append(_C.granted.is_(true()))
        if purpose.material_change:
            conditions.append(_C.notice_version >= purpose.notice_version)
    if purpose.objectable:
        conditions.append(_O.purpose.is_(None))
    return conditions


_AFTER = bindparam("after", type_=_M.id.type)


@lru_cache(maxsize=1024)
def _permitted(purpose: Purpose, requested: tuple[str, ...], keyset: bool) -> Select[Any]:
    """A page's statement: the first page, or (``keyset``) the one after ``:after``."""
    query = _joined(purpose, requested, _AFTER if keyset else None)
    return query.where(*permitted_filter(purpose)).order_by(_M.id)


def read_page(session: Session, crypto: MemberCrypto, policy: Policy, purpose: Purpose,
              requested: Sequence[str], *, first: int, after: uuid.UUID | None,
              log: ReaderLog) -> list[MemberData]:
    """The next page of members for whom the purpose is permitted, ordered by internal id
    (random, so the order reveals nothing)."""
    first = max(1, min(first, MAX_PAGE))
    query = _permitted(purpose, tuple(requested), after is not None).limit(first)
    rows = read_rows(session, query, {"after": after} if after is not None else {})
    covered = policy.attributes_of(purpose.key)
    positions = _positions(requested)
    reads = ReadGroups()
    # Every member is decided, field by field; members in the same state get the same
    # decision, so it is made once per distinct state of the page (a handful), not per row.
    plans: dict[_Shape, _Plan] = {}
    decided: list[tuple[Any, _Plan]] = []
    for row in rows:
        shape = _shape(row)
        plan = plans.get(shape)
        if plan is None:
            plan = plans[shape] = _Plan.of(decide(purpose, covered, _state(shape), requested),
                                           reads, positions)
        plan.members.append(row[_ID])
        decided.append((row, plan))
    log.record(purpose.key, reads)
    return [MemberData(row[_ID], _decrypt(crypto, row, plan.fields), plan.decision)
            for row, plan in decided]


@dataclass(frozen=True)
class _Plan:
    """One decision of a page and what follows from it: the log group of its members and
    the row positions of the values to decrypt."""

    decision: AccessDecision
    members: list[uuid.UUID]
    fields: _Fields

    @classmethod
    def of(cls, decision: AccessDecision, reads: ReadGroups,
           positions: dict[str, int]) -> _Plan:
        return cls(decision, reads.group(decision.allowed, decision.denied),
                   _fields(decision, positions))


def check_many(session: Session, crypto: MemberCrypto, purpose: Purpose,
               numbers: Sequence[str], *, log: ReaderLog) -> list[tuple[str, str | None]]:
    """For each distinct member number as given: (number, reason or None when permitted).

    An unknown or malformed number is answered like a member without consent. The log
    names each member found once, however many spellings of their number were given;
    what was read is ``consent:<purpose>``, returned when permitted, denied otherwise."""
    if len(numbers) > MAX_CONSENT_CHECK:
        raise ValueError(f"at most {MAX_CONSENT_CHECK} member numbers per call")
    # One look-up per number, however it is spelt: normalising is cheap, the keyed hash
    # and the row are not, and spellings must not make a member cost more than a stranger.
    by_number: dict[str, bytes] = {}
    digests: dict[str, bytes | None] = {}
    for raw in numbers:
        normalised = member_number.normalise(raw)
        if normalised is not None and normalised not in by_number:
            by_number[normalised] = crypto.index.digest("member_number", normalised)
        digests[raw] = by_number[normalised] if normalised is not None else None
    wanted = list(by_number.values())
    found: dict[bytes, Any] = {}
    query = _by_number(purpose)
    for start in range(0, len(wanted), 1000):
        for fetched in read_rows(session, query, {"digests": wanted[start:start + 1000]}):
            found[fetched[_NUMBER_INDEX]] = fetched
    field = f"consent:{purpose.key}"
    stranger = member_reason(purpose, NOBODY)
    reasons: dict[bytes | None, str | None] = {None: stranger}
    reads = ReadGroups()
    # As on a page: each member decided, once per distinct shape of the members found.
    decided: dict[_Shape, tuple[str | None, list[uuid.UUID]]] = {}
    for digest in wanted:
        row: Any = found.get(digest)
        if row is None:
            reasons[digest] = stranger
            continue
        shape = _shape(row)
        known = decided.get(shape)
        if known is None:
            reason = member_reason(purpose, _state(shape))
            group = (reads.group([field], {}) if reason is None
                     else reads.group([], {field: reason}))
            known = decided[shape] = (reason, group)
        reasons[digest] = known[0]
        known[1].append(row[_ID])
    answers = [(raw, reasons[digest]) for raw, digest in digests.items()]
    log.record(purpose.key, reads)
    return answers


_NUMBER_INDEX = _FIRST_FIELD  # the column _by_number adds after the decision's columns


@lru_cache(maxsize=256)
def _by_number(purpose: Purpose) -> Select[Any]:
    """The consent check's statement for up to 1,000 member-number digests."""
    return (_joined(purpose, []).add_columns(_M.member_number_index)
            .where(_M.member_number_index.in_(bindparam("digests", expanding=True))))
