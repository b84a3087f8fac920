"""Queries over members. Never commits: the unit of work does."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.models import Member

INDEX_COLUMNS = {
    "email": Member.email_index,
    "phone": Member.phone_index,
    "member_number": Member.member_number_index,
}


def get(session: Session, member_id: uuid.UUID) -> Member | None:
    return session.get(Member, member_id)


def find_by_index(session: Session, kind: str, digest: bytes) -> Member | None:
    return session.scalars(select(Member).where(INDEX_COLUMNS[kind] == digest)).first()


def index_taken(session: Session, kind: str, digest: bytes,
                except_member: uuid.UUID | None = None) -> bool:
    query = select(Member.id).where(INDEX_COLUMNS[kind] == digest)
    if except_member is not None:
        query = query.where(Member.id != except_member)
    return session.scalar(query.limit(1)) is not None
