"""Member use cases: register, read, look up, rectify. Values are sealed per member."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit import trail
from audit.access_log import Access, append
from identity import member_number, repository
from identity.encryption import MemberCipher, MemberCrypto
from identity.errors import IdentityError, MemberNotFound, ValidationFailed
from identity.models import PERSONAL_FIELDS, Member
from identity.validation import normalise_email, normalise_member, normalise_phone
from vaultkernel.clock import utcnow
from vaultkernel.database import Database, UnitOfWork

# How administrators' reads are named in the access log (not a policy purpose).
ADMINISTRATION = "administration"
MIN_REASON, MAX_REASON = 10, 500

INDEXED = ("email", "phone")


@dataclass(frozen=True)
class MemberProfile:
    """A member's decrypted attributes, as their owner (or an admin) sees them."""

    id: uuid.UUID
    status: str
    member_number: str
    given_name: str
    family_name: str
    email: str
    phone: str | None
    birthdate: dt.date | None
    postal_address: dict[str, Any] | None
    preferred_language: str | None
    preferences: dict[str, Any] | None
    created_at: dt.datetime
    updated_at: dt.datetime


def open_member(crypto: MemberCrypto, member: Member) -> MemberProfile:
    if member.wrapped_key is None or member.kek_version is None:
        raise MemberNotFound("member was erased", code="MEMBER_ERASED")
    cipher = crypto.cipher(member.id, member.kek_version, member.wrapped_key)
    values = {name: _open(cipher, name, getattr(member, name)) for name in PERSONAL_FIELDS}
    return MemberProfile(
        id=member.id,
        status=member.status,
        member_number=values["member_number"] or "",
        given_name=values["given_name"] or "",
        family_name=values["family_name"] or "",
        email=values["email"] or "",
        phone=values["phone"],
        birthdate=dt.date.fromisoformat(values["birthdate"]) if values["birthdate"] else None,
        postal_address=orjson.loads(values["postal_address"]) if values["postal_address"] else None,
        preferred_language=values["preferred_language"],
        preferences=orjson.loads(values["preferences"]) if values["preferences"] else None,
        created_at=member.created_at,
        updated_at=member.updated_at,
    )


def _open(cipher: MemberCipher, name: str, blob: bytes | None) -> str | None:
    return None if blob is None else cipher.decrypt(name, blob)


def _duplicate(field: str) -> IdentityError:
    return IdentityError(f"another member already uses this {field}", field=field,
                         code=f"DUPLICATE_{field.upper()}")


def register_member(uow: UnitOfWork, crypto: MemberCrypto, data: Mapping[str, Any], *,
                    actor: str, default_region: str) -> MemberProfile:
    values = normalise_member(data, default_region=default_region, partial=False)
    session = uow.session
    indexes = {k: crypto.index.digest(k, v) for k in INDEXED if (v := values.get(k))}
    problems = [_duplicate(k) for k, d in indexes.items() if repository.index_taken(session, k, d)]
    if problems:
        raise ValidationFailed(problems)
    member_id = uuid.uuid4()
    cipher, kek_version, wrapped = crypto.new_member(member_id)
    number = _unused_member_number(uow, crypto)
    member = Member(
        id=member_id,
        kek_version=kek_version,
        wrapped_key=wrapped,
        member_number_index=crypto.index.digest("member_number", number),
        email_index=indexes.get("email"),
        phone_index=indexes.get("phone"),
        member_number=cipher.encrypt("member_number", number),
    )
    for name, value in values.items():
        if value is not None:
            setattr(member, name, cipher.encrypt(name, value))
    session.add(member)
    trail.record(session, actor, "member.registered", member_id,
                 fields=sorted(k for k, v in values.items() if v is not None))
    _commit_unique(uow)
    return open_member(crypto, member)


def _unused_member_number(uow: UnitOfWork, crypto: MemberCrypto) -> str:
    for _ in range(20):
        number = member_number.generate()
        digest = crypto.index.digest("member_number", number)
        if not repository.index_taken(uow.session, "member_number", digest):
            return number
    raise RuntimeError("could not allocate a free member number")


def _commit_unique(uow: UnitOfWork) -> None:
    """Commit; a concurrent insert of the same email/phone surfaces as a duplicate error."""
    try:
        uow.commit()
    except IntegrityError as exc:
        uow.rollback()
        text = str(exc.orig).lower()
        field = "phone" if "phone" in text else "email"
        raise ValidationFailed([_duplicate(field)]) from None


def get_member(uow: UnitOfWork, crypto: MemberCrypto, member_id: uuid.UUID) -> MemberProfile:
    member = repository.get(uow.session, member_id)
    if member is None:
        raise MemberNotFound("no such member")
    return open_member(crypto, member)


def find_member(uow: UnitOfWork, crypto: MemberCrypto, *, default_region: str,
                email: str | None = None, phone: str | None = None,
                number: str | None = None) -> MemberProfile | None:
    """Look a member up by exactly one of email, phone or member number."""
    given = [(k, v) for k, v in (("email", email), ("phone", phone),
                                 ("member_number", number)) if v is not None]
    if len(given) != 1:
        raise IdentityError("give exactly one of email, phone or memberNumber",
                            code="ONE_KEY_REQUIRED")
    kind, raw = given[0]
    if kind == "email":
        key = normalise_email(raw)
    elif kind == "phone":
        key = normalise_phone(raw, default_region)
    else:
        normalised = member_number.normalise(raw)
        if normalised is None:
            raise IdentityError("member number is malformed", field="memberNumber",
                                code="INVALID_MEMBER_NUMBER")
        key = normalised
    member = repository.find_by_index(uow.session, kind, crypto.index.digest(kind, key))
    return None if member is None else open_member(crypto, member)


def look_up_member(uow: UnitOfWork, db: Database, crypto: MemberCrypto, *, actor: str,
                   reason: str, fields: Sequence[str], request_id: str, default_region: str,
                   email: str | None = None, phone: str | None = None,
                   number: str | None = None) -> MemberProfile | None:
    """An administrator looks one member up, saying why (10-500 characters).

    The look-up and its reason go to the audit trail (``member.looked_up``) and are
    committed; then the read of ``fields`` goes to the access log (purpose
    ``administration``) before the profile is returned. No match: ``None``, nothing logged.
    """
    reason = reason.strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise IdentityError(f"say why you look this member up ({MIN_REASON}-{MAX_REASON} "
                            "characters)", field="reason", code="REASON_REQUIRED")
    profile = find_member(uow, crypto, default_region=default_region, email=email,
                          phone=phone, number=number)
    if profile is None:
        return None
    with uow.committing() as session:
        trail.record(session, actor, "member.looked_up", profile.id, reason=reason)
    append(db, [Access(principal=actor, purpose=ADMINISTRATION, member_id=profile.id,
                       fields_returned=list(fields))], request_id)
    return profile


def rectify_member(uow: UnitOfWork, crypto: MemberCrypto, member_id: uuid.UUID,
                   changes: Mapping[str, Any], *, actor: str, default_region: str,
                   notify: Callable[[Session, list[str]], None] | None = None,
                   commit: bool = True) -> MemberProfile:
    """Apply corrections (GDPR Art. 16); the audit trail names changed fields, not values.

    ``notify`` is called with the changed field names inside the transaction, so the
    recipients' notification (Art. 19) commits together with the correction."""
    values = normalise_member(changes, default_region=default_region, partial=True)
    session = uow.session
    member = repository.get(session, member_id)
    if member is None:
        raise MemberNotFound("no such member")
    current = open_member(crypto, member)
    cipher = crypto.cipher(member.id, member.kek_version or 0, member.wrapped_key or b"")
    changed: list[str] = []
    problems: list[IdentityError] = []
    for name, value in values.items():
        if value == _stored_text(current, name):
            continue
        if name in INDEXED:
            digest = crypto.index.digest(name, value) if value else None
            if digest and repository.index_taken(session, name, digest, except_member=member.id):
                problems.append(_duplicate(name))
                continue
            setattr(member, f"{name}_index", digest)
        setattr(member, name, None if value is None else cipher.encrypt(name, value))
        changed.append(name)
    if problems:
        uow.rollback()
        raise ValidationFailed(problems)
    if changed:
        member.updated_at = utcnow()
        trail.record(session, actor, "member.rectified", member.id, fields=sorted(changed))
        if notify is not None:
            notify(session, sorted(changed))
        if commit:
            _commit_unique(uow)
        return open_member(crypto, member)
    return current


def _stored_text(profile: MemberProfile, name: str) -> str | None:
    value = getattr(profile, name)
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return str(value)


def restriction_of(session: Session, member_id: uuid.UUID) -> bool:
    member = repository.get(session, member_id)
    return member is not None and member.restricted_at is not None


def id_by_number(uow: UnitOfWork, crypto: MemberCrypto, number: str) -> uuid.UUID | None:
    """The internal id behind a member number, without opening any personal value."""
    normalised = member_number.normalise(number)
    if normalised is None:
        return None
    member = repository.find_by_index(uow.session, "member_number",
                                      crypto.index.digest("member_number", normalised))
    return member.id if member is not None and member.status == "active" else None
