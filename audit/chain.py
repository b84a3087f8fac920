"""The access log's entry format and hash chain.

An entry is one answered read. Its ``reads`` are packed: members who got the same fields
(and were denied the same ones, for the same reasons) share one group, so a page of a
thousand members with the same consent costs one short list, not a thousand objects::

    [[["email", "given_name"], {"phone": "CONSENT_REQUIRED"}, ["<member hex>", ...]], ...]

The text is stored as written and hashed as stored::

    entry_hash = SHA-256(previous_hash || header || "\\n" || reads)

where ``header`` is the canonical JSON of sequence, time, request id, principal and
purpose. Changing, removing or reordering an entry breaks the chain at a point
:func:`audit.verification.verify` reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

GENESIS = bytes(32)
PACKED = 2  # the entry format written now
LEGACY = 1  # one member per entry, hashed as before the packed format


@dataclass(frozen=True)
class Read:
    """What one member's part of an answered read returned and denied (field names)."""

    member_id: uuid.UUID
    returned: Sequence[str]
    denied: Mapping[str, str] = field(default_factory=dict)


_Key = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]


class ReadGroups:
    """An answer's reads collected group by group, as a page is decided: its members
    share a few (returned, denied) pairs, so each pair is put in canonical order once and
    each member costs one append. Iterates as the :class:`Read` of each member named."""

    def __init__(self) -> None:
        self._groups: dict[_Key, list[uuid.UUID]] = {}

    def group(self, returned: Iterable[str], denied: Mapping[str, str]) -> list[uuid.UUID]:
        """The list to append the id of each member who got exactly this; fields in any
        order name the same group."""
        return self._groups.setdefault(_key(set(returned), denied), [])

    def __iter__(self) -> Iterator[Read]:
        for (returned, denied), members in self._groups.items():
            for member_id in members:
                yield Read(member_id, list(returned), dict(denied))

    def _pack(self) -> tuple[str, int] | None:
        """The packed text, or ``None`` when a member is named twice: then :func:`pack`
        merges them group by group, so members are listed in group order, not in the order
        they were read (the text still verifies; no caller names a member twice today: pages
        have one row per member, and ``check_many`` merges spellings before grouping)."""
        count = sum(len(members) for members in self._groups.values())
        named = [[m.hex for m in members] for members in self._groups.values()]
        if len({hex_id for members in named for hex_id in members}) < count:
            return None
        return _packed(dict(zip(self._groups, named, strict=True))), count


def pack(reads: Iterable[Read]) -> tuple[str, int]:
    """The packed text of ``reads`` and how many members it names. A member named twice
    (e.g. the same number spelt two ways in one consent check) is one entry: what it was
    returned is the union, and a field returned once is not also denied."""
    if isinstance(reads, ReadGroups):
        packed = reads._pack()
        if packed is not None:
            return packed
    reads = list(reads)
    if len({read.member_id for read in reads}) < len(reads):
        return _pack_merged(reads)
    # Each member named once (every page): a page's members share a few distinct
    # (returned, denied) pairs, so each pair is put in canonical order once, not per member.
    canonical: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], _Key] = {}
    groups: dict[_Key, list[str]] = {}
    for read in reads:
        given = (tuple(read.returned), tuple(read.denied.items()))
        key = canonical.get(given)
        if key is None:
            key = canonical[given] = _key(set(read.returned), read.denied)
        groups.setdefault(key, []).append(read.member_id.hex)
    return _packed(groups), len(reads)


def _key(returned: set[str], denied: Mapping[str, str]) -> _Key:
    return (tuple(sorted(returned)),
            tuple(sorted((f, r) for f, r in denied.items() if f not in returned)))


def _packed(groups: dict[_Key, list[str]]) -> str:
    return orjson.dumps([[list(returned), dict(denied), members]
                         for (returned, denied), members in groups.items()]).decode()


def _pack_merged(reads: list[Read]) -> tuple[str, int]:
    merged: dict[uuid.UUID, tuple[set[str], dict[str, str]]] = {}
    for read in reads:
        returned, denied = merged.setdefault(read.member_id, (set(), {}))
        returned.update(read.returned)
        denied.update(read.denied)
    groups: dict[_Key, list[str]] = {}
    for member_id, (returned, denied) in merged.items():
        groups.setdefault(_key(returned, denied), []).append(member_id.hex)
    return _packed(groups), len(merged)


def unpack(reads: str) -> Iterator[Read]:
    for returned, denied, members in orjson.loads(reads):
        for hex_id in members:
            yield Read(uuid.UUID(hex=hex_id), returned, denied)


def member_ids(reads: str) -> Iterator[uuid.UUID]:
    for _, _, members in orjson.loads(reads):
        for hex_id in members:
            yield uuid.UUID(hex=hex_id)


def read_of(reads: str, member_id: uuid.UUID) -> Read | None:
    """The member's part of an entry, if the entry names them."""
    wanted = member_id.hex
    for returned, denied, members in orjson.loads(reads):
        if wanted in members:
            return Read(member_id, returned, denied)
    return None


def instant(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def header(sequence: int, at: str, request_id: str, principal: str, purpose: str) -> bytes:
    return orjson.dumps({"sequence": sequence, "at": at, "request_id": request_id,
                         "principal": principal, "purpose": purpose},
                        option=orjson.OPT_SORT_KEYS)


def chain_hash(previous: bytes, content: bytes) -> bytes:
    return hashlib.sha256(previous + content).digest()


def entry_hash(previous: bytes, sequence: int, at: str, request_id: str, principal: str,
               purpose: str, reads: str, format: int = PACKED) -> bytes:
    if format == LEGACY:
        return chain_hash(previous, _legacy_content(sequence, at, request_id, principal,
                                                    purpose, reads))
    return chain_hash(previous, header(sequence, at, request_id, principal, purpose)
                      + b"\n" + reads.encode())


def entry_row(previous: bytes, sequence: int, at: dt.datetime, request_id: str,
              principal: str, purpose: str, reads: str, members: int) -> dict[str, Any]:
    """The ``access_log`` row of a packed entry chained onto ``previous``."""
    return {"sequence": sequence, "at": at, "request_id": request_id, "principal": principal,
            "purpose": purpose, "format": PACKED, "members": members, "reads": reads,
            "previous_hash": previous,
            "entry_hash": entry_hash(previous, sequence, instant(at), request_id, principal,
                                     purpose, reads)}


def _legacy_content(sequence: int, at: str, request_id: str, principal: str, purpose: str,
                    reads: str) -> bytes:
    """How an entry of one member was hashed before the packed format (migration 0007
    converted such rows to a single group and kept their hashes)."""
    named = list(unpack(reads))
    if len(named) != 1:
        raise ValueError("a legacy entry names exactly one member")
    read = named[0]
    return orjson.dumps(
        {"sequence": sequence, "at": at, "request_id": request_id, "principal": principal,
         "purpose": purpose, "member_id": str(read.member_id),
         "fields_returned": sorted(read.returned), "fields_denied": dict(read.denied)},
        option=orjson.OPT_SORT_KEYS)
