"""Queries over members. Never commits: the unit of work does."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from identity.models import PERSONAL_FIELDS, Member
from vaultkernel.database import read_rows

INDEX_COLUMNS = {
    "email": Member.email_index,
    "phone": Member.phone_index,
    "member_number": Member.member_number_index,
}


def get(session: Session, member_id: uuid.UUID) -> Member | None:
    return session.get(Member, member_id)


_MEMBERS = Member.__table__.c
_SEALED_KEYS = ("id", "status", "kek_version", "wrapped_key", "created_at", "updated_at")


@lru_cache(maxsize=256)
def _sealed(fields: tuple[str, ...]) -> Select[Any]:
    columns = [*_SEALED_KEYS, *(f for f in PERSONAL_FIELDS if f in fields)]
    return select(*(_MEMBERS[c] for c in columns)).where(_MEMBERS.id == bindparam("id"))


def sealed(session: Session, member_id: uuid.UUID, fields: tuple[str, ...]) -> Row[Any] | None:
    """The member's row as stored (key, status, times and the sealed ``fields``), read as
    a row, not an entity: on a single-member request, loading the ORM entity costs more
    than the query (docs/performance.md). Read-only: nothing to change or flush."""
    rows = read_rows(session, _sealed(fields), {"id": member_id})
    return rows[0] if rows else None


def find_by_index(session: Session, kind: str, digest: bytes) -> Member | None:
    return session.scalars(select(Member).where(INDEX_COLUMNS[kind] == digest)).first()


def index_taken(session: Session, kind: str, digest: bytes,
                except_member: uuid.UUID | None = None) -> bool:
    query = select(Member.id).where(INDEX_COLUMNS[kind] == digest)
    if except_member is not None:
        query = query.where(Member.id != except_member)
    return session.scalar(query.limit(1)) is not None
