"""Tables of identity: members (encrypted attributes), clients, signing keys, the marketing
suppression list, sign-in codes and the sign-in guesses counted against the limits."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Boolean, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vaultkernel.clock import utcnow
from vaultkernel.database import Base, UTCDateTime

# Personal attributes stored encrypted, in the order they are exported. Each belongs to
# one data category (see the policy file).
PERSONAL_FIELDS = (
    "member_number",
    "given_name",
    "family_name",
    "email",
    "phone",
    "birthdate",
    "postal_address",
    "preferred_language",
    "preferences",
)


class Member(Base):
    __tablename__ = "members"
    # The retention sweep's candidate query: active members by last activity.
    __table_args__ = (Index("ix_members_status_last_activity_at", "status", "last_activity_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Blind indexes (HMAC-SHA256) for equality look-ups; never the plaintext.
    member_number_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    email_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    phone_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    # The member's data key, wrapped by a KEK version; destroyed on erasure.
    kek_version: Mapped[int | None] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    # AES-256-GCM ciphertexts (nonce || ciphertext || tag).
    member_number: Mapped[bytes | None] = mapped_column(LargeBinary)
    given_name: Mapped[bytes | None] = mapped_column(LargeBinary)
    family_name: Mapped[bytes | None] = mapped_column(LargeBinary)
    email: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)
    birthdate: Mapped[bytes | None] = mapped_column(LargeBinary)
    postal_address: Mapped[bytes | None] = mapped_column(LargeBinary)
    preferred_language: Mapped[bytes | None] = mapped_column(LargeBinary)
    preferences: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # GDPR Art. 18: while set, no purpose may process the member's data.
    restricted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the member was told that inactivity will soon erase their membership.
    inactivity_notice_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when the member's email was on the marketing suppression list as it became
    # theirs: direct marketing is then granted only by the member themself
    # (identity.suppression, consent.ledger).
    marketing_suppressed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when an erasure request met a legal hold: what the hold does not cover was
    # erased, the rest is restricted (and stays so) until the hold ends and the erasure
    # is finished (retention.shredding).
    erasure_held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Client(Base):
    """A principal that authenticates with client credentials: a service, officer or admin."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))  # client | officer | admin
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    allowed_purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # May record consent on a member's behalf (a store counter, the app back end).
    collects_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where events (consent changes, erasure, ...) are delivered as Standard Webhooks; the
    # signing secret is sealed under a keyring-derived key.
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    sealed_webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKey(Base):
    """A JWT signing key; the private half is wrapped by the KEK like a data key."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, str | list[str]]] = mapped_column(JSON)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SuppressedEmail(Base):
    """A keyed hash of an erased member's email who had opted out of marketing: the
    address is never used for marketing again until its owner grants it themself (kept
    without the address itself; ``identity.suppression``)."""

    __tablename__ = "suppression_list"

    email_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(64))


class SignInCode(Base):
    """A one-time sign-in code, stored as a keyed hash, keyed by the email's blind index
    when an active member has the address, by a separate keyed hash otherwise
    (``identity.sign_in``: an erased member's blind index is never stored again)."""

    __tablename__ = "sign_in_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email_index: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SignInGuess(Base):
    """A wrong (or not yet checked) sign-in code, counted against the limits of its
    address, of its caller and of the service while it is in the window
    (``identity.sign_in_limits``); deleted once it no longer counts."""

    __tablename__ = "sign_in_guesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guessed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    email_index: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    caller: Mapped[bytes] = mapped_column(LargeBinary(16))  # keyed hash of the client IP
