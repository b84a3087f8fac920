"""Passwordless member sign-in: a one-time code sent to the member's email.

The answer to a code request is the same whether or not the email belongs to a member;
codes are stored as keyed hashes, expire and are single-use; wrong guesses are limited per
address, per caller and overall (:mod:`identity.sign_in_limits`).

A code, or a guess, is stored under the email's blind index only when an active member
has the address (the member row holds that index already, and erasure deletes the codes
and guesses with it). For any other address (never a member's, or an erased member's)
the row is kept under a separate keyed hash (``sign-in-stranger``), so a request or a
guess for an erased address never stores its blind index again; both paths do the same
work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from identity import repository, sign_in_limits
from identity.encryption import MemberCrypto
from identity.errors import IdentityError
from identity.languages import preferred_language
from identity.models import Member, SignInCode
from identity.sign_in_limits import GuessLimits, seconds_until
from identity.validation import normalise_email
from vaultkernel.clock import Clock, utcnow
from vaultkernel.database import UnitOfWork
from vaultkernel.errors import DomainError

CODE_DIGITS = 6
RATE_WINDOW = dt.timedelta(minutes=15)


class SignInFailed(DomainError):
    """Wrong, expired, used or exhausted code, or no such member: one answer for all
    (OAuth's ``invalid_grant`` on the wire)."""

    def __init__(self) -> None:
        super().__init__("SIGN_IN_FAILED", "the code is wrong, used or expired")


class TooManyRequests(DomainError):
    """Too many codes asked for one address, or too many wrong codes tried (OAuth's
    ``slow_down`` on the wire, HTTP 429 with ``Retry-After``)."""

    def __init__(self, retry_after: int,
                 message: str = "too many codes requested; try later") -> None:
        super().__init__("TOO_MANY_REQUESTS", message)
        self.retry_after = retry_after  # seconds


@dataclass(frozen=True)
class CodeToSend:
    email: str
    code: str
    member_id: uuid.UUID
    # The member's preferred language (``None``: not given or unreadable), to write in.
    language: str | None = None


class SignInCodes:
    def __init__(self, crypto: MemberCrypto, derive: Callable[[str], bytes], *, ttl: int,
                 max_per_window: int, guesses: GuessLimits, clock: Clock):
        self._crypto = crypto
        self._key = derive("sign-in-code")
        self._stranger_key = derive("sign-in-stranger")
        self._caller_key = derive("sign-in-caller")
        self.ttl = dt.timedelta(seconds=ttl)
        self.max_per_window = max_per_window
        self.guesses = guesses
        self.clock = clock

    def _hash(self, email_index: bytes, code: str) -> bytes:
        return hmac.new(self._key, email_index + code.encode(), hashlib.sha256).digest()

    def _address_key(self, session: Session,
                     normalised: str) -> tuple[bytes, Member | None, bool]:
        """The key an address's codes and guesses are stored under, its member, and
        whether that member is active: the blind index for an active member's address,
        the separate keyed hash for any other (never an erased member's index again)."""
        index = self._crypto.index.digest("email", normalised)
        stranger = hmac.new(self._stranger_key, normalised.encode(), hashlib.sha256).digest()
        member = repository.find_by_index(session, "email", index)
        active = member is not None and member.status == "active"
        return (index if active else stranger), member, active

    def request(self, uow: UnitOfWork, email: str) -> CodeToSend | None:
        """Issue a code; return what to mail, or ``None`` when no member has this email.

        A row is stored either way, so both paths do the same work and rate limiting
        applies to unregistered addresses too.
        """
        try:
            normalised = normalise_email(email)
        except IdentityError:
            return None
        session = uow.session
        key, member, active = self._address_key(session, normalised)
        now = self.clock.now()
        recent, oldest = session.execute(
            select(func.count(), func.min(SignInCode.created_at)).where(
                SignInCode.email_index == key, SignInCode.created_at > now - RATE_WINDOW)
        ).one()
        if (recent or 0) >= self.max_per_window:
            raise TooManyRequests(seconds_until(oldest + RATE_WINDOW, now))
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        session.add(SignInCode(email_index=key, code_hash=self._hash(key, code),
                               created_at=now, expires_at=now + self.ttl))
        to_send = None
        if member is not None and active:
            to_send = CodeToSend(email=normalised, code=code, member_id=member.id,
                                 language=preferred_language(
                                     self._crypto, member.id, member.kek_version,
                                     member.wrapped_key, member.preferred_language))
        uow.commit()
        return to_send

    def exchange(self, uow: UnitOfWork, email: str, code: str, caller: str) -> uuid.UUID:
        """Check a code tried by ``caller`` (its IP address); on success it is spent and
        the member id returned. Over a guess limit: :class:`TooManyRequests`, unchecked."""
        try:
            normalised = normalise_email(email)
        except IdentityError:
            raise SignInFailed() from None
        if not code.isascii() or not code.isdigit() or len(code) != CODE_DIGITS:
            raise SignInFailed()  # a malformed code cannot match: no guess is spent
        session = uow.session
        key, member, active = self._address_key(session, normalised)
        now = self.clock.now()
        # Counted whether or not the address has an open code (or is a member's).
        guess_id, refusal = sign_in_limits.record_guess(
            uow, self.guesses, email_index=key,
            caller=sign_in_limits.caller_key(self._caller_key, caller), now=now)
        if refusal is not None:
            raise TooManyRequests(refusal.retry_after, "too many wrong codes; try later")
        candidates = session.scalars(
            select(SignInCode).where(SignInCode.email_index == key,
                                     SignInCode.used_at.is_(None),
                                     SignInCode.expires_at > now)
            .order_by(SignInCode.created_at.desc())
        ).all()
        live = [c for c in candidates if c.attempts < self.guesses.per_address]
        expected = self._hash(key, code)
        match = next((c for c in live if hmac.compare_digest(c.code_hash, expected)), None)
        if match is None:
            for c in live:
                c.attempts += 1
            uow.commit()
            raise SignInFailed()
        match.used_at = now
        if member is None or not active:
            uow.commit()
            raise SignInFailed()
        # Spend every other open code for this address too.
        for other in candidates:
            if other is not match:
                other.used_at = now
        sign_in_limits.withdraw(session, guess_id)  # a right code is not a wrong guess
        uow.commit()
        return member.id

    @staticmethod
    def purge_expired(uow: UnitOfWork) -> int:
        result = uow.session.execute(delete(SignInCode).where(SignInCode.expires_at < utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
