"""Member use cases: register, read, look up, rectify. Values are sealed per member."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit import trail
from audit.access_log import ReaderLog
from audit.chain import Read
from identity import member_number, repository, suppression
from identity.encryption import MemberCipher, MemberCrypto
from identity.errors import IdentityError, MemberNotFound, ValidationFailed
from identity.models import PERSONAL_FIELDS, Member
from identity.validation import normalise_email, normalise_member, normalise_phone
from vaultkernel.clock import utcnow
from vaultkernel.database import UnitOfWork

# How reads outside any policy purpose are named in the access log: an administrator's,
# and a member's of their own profile.
ADMINISTRATION = "administration"
SELF_SERVICE = "self_service"
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


@dataclass(frozen=True)
class Registration:
    member_id: uuid.UUID
    member_number: str


def open_member(crypto: MemberCrypto, member: Member | Row[Any],
                fields: Sequence[str] = PERSONAL_FIELDS) -> MemberProfile:
    """The member's values; only ``fields`` are decrypted (the others are left empty).
    ``member`` is the entity or a row of :func:`identity.repository.sealed` holding
    ``fields``."""
    if member.wrapped_key is None or member.kek_version is None:
        raise MemberNotFound("member was erased", code="MEMBER_ERASED")
    cipher = crypto.cipher(member.id, member.kek_version, member.wrapped_key)
    values = {name: _open(cipher, name, getattr(member, name)) if name in fields else None
              for name in PERSONAL_FIELDS}
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


def enrol_member(uow: UnitOfWork, crypto: MemberCrypto, data: Mapping[str, Any], *,
                 actor: str, default_region: str) -> Registration:
    """Register a new member and commit; the caller learns the new number, no values."""
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
    if email := values.get("email"):
        suppression.mark_if_listed(session, crypto, member, email, now=utcnow())
    _commit_unique(uow)
    return Registration(member_id, number)


def register_member(uow: UnitOfWork, crypto: MemberCrypto, data: Mapping[str, Any], *,
                    actor: str, default_region: str, log: ReaderLog, purpose: str,
                    returned: Sequence[str], denied: Mapping[str, str] | None = None,
                    ) -> MemberProfile:
    """Register a new member and answer ``returned`` of their values (and the new member
    number, their public handle), read for ``purpose``; the answer is in the access log
    before it is returned."""
    registration = enrol_member(uow, crypto, data, actor=actor, default_region=default_region)
    log.record(purpose, [Read(registration.member_id, returned, denied or {})])
    member = repository.get(uow.session, registration.member_id)
    if member is None:
        raise MemberNotFound("no such member")
    return replace(open_member(crypto, member, returned),
                   member_number=registration.member_number)


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


def read_own_profile(uow: UnitOfWork, crypto: MemberCrypto, member_id: uuid.UUID, *,
                     fields: Sequence[str], log: ReaderLog) -> MemberProfile:
    """A member reads ``fields`` of their own profile; the read is logged first."""
    member = repository.sealed(uow.session, member_id, tuple(fields))
    if member is None:
        raise MemberNotFound("no such member")
    if member.wrapped_key is None:
        raise MemberNotFound("member was erased", code="MEMBER_ERASED")
    log.record(SELF_SERVICE, [Read(member_id, fields)])
    return open_member(crypto, member, fields)


def _find(uow: UnitOfWork, crypto: MemberCrypto, *, default_region: str,
          email: str | None, phone: str | None, number: str | None) -> Member | None:
    """The member (still encrypted) with exactly one of email, phone or member number."""
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
    return repository.find_by_index(uow.session, kind, crypto.index.digest(kind, key))


def find_member_id(uow: UnitOfWork, crypto: MemberCrypto, *, default_region: str,
                   email: str | None = None, phone: str | None = None,
                   number: str | None = None) -> uuid.UUID | None:
    """Whose is this email, phone or member number (for operators: no values)."""
    member = _find(uow, crypto, default_region=default_region, email=email, phone=phone,
                   number=number)
    return None if member is None else member.id


def look_up_member(uow: UnitOfWork, crypto: MemberCrypto, *, reason: str,
                   fields: Sequence[str], log: ReaderLog, default_region: str,
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
    member = _find(uow, crypto, default_region=default_region, email=email, phone=phone,
                   number=number)
    if member is None:
        return None
    if member.wrapped_key is None:
        raise MemberNotFound("member was erased", code="MEMBER_ERASED")
    with uow.committing() as session:
        trail.record(session, log.principal, "member.looked_up", member.id, reason=reason)
    log.record(ADMINISTRATION, [Read(member.id, fields)])
    return open_member(crypto, member, fields)


def rectify_member(uow: UnitOfWork, crypto: MemberCrypto, member_id: uuid.UUID,
                   changes: Mapping[str, Any], *, actor: str, default_region: str,
                   notify: Callable[[Session, list[str]], None] | None = None,
                   commit: bool = True) -> list[str]:
    """Apply corrections (GDPR Art. 16) and return the names of the fields that changed;
    the audit trail names changed fields, not values.

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
        if "email" in changed and (email := values.get("email")):
            suppression.mark_if_listed(session, crypto, member, email, now=member.updated_at)
        if notify is not None:
            notify(session, sorted(changed))
        if commit:
            _commit_unique(uow)
    return sorted(changed)


def correct_own_profile(uow: UnitOfWork, crypto: MemberCrypto, member_id: uuid.UUID,
                        changes: Mapping[str, Any], *, fields: Sequence[str], log: ReaderLog,
                        default_region: str,
                        notify: Callable[[Session, list[str]], None] | None = None,
                        ) -> MemberProfile:
    """A member corrects their profile and reads ``fields`` of it back (logged first)."""
    rectify_member(uow, crypto, member_id, changes, actor=log.principal,
                   default_region=default_region, notify=notify)
    return read_own_profile(uow, crypto, member_id, fields=fields, log=log)


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
