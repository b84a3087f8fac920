"""Passwordless member sign-in: a one-time code sent to the member's email.

The answer to a code request is the same whether or not the email belongs to a member;
codes are stored as keyed hashes, expire, are single-use, and allow a few attempts.

A code is stored under the email's blind index only when an active member has the
address (the member row holds that index already, and erasure deletes the codes with
it). For any other address (never a member's, or an erased member's) the row is kept
under a separate keyed hash (``sign-in-stranger``), so a request for an erased address
never stores its blind index again; both paths do the same work.
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

from identity import repository
from identity.encryption import MemberCrypto
from identity.errors import IdentityError
from identity.models import SignInCode
from identity.validation import normalise_email
from vaultkernel.clock import utcnow
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
    """Too many codes asked for one address (OAuth's ``slow_down`` on the wire)."""

    def __init__(self) -> None:
        super().__init__("TOO_MANY_REQUESTS", "too many codes requested; try later")


@dataclass(frozen=True)
class CodeToSend:
    email: str
    code: str
    member_id: uuid.UUID


class SignInCodes:
    def __init__(self, crypto: MemberCrypto, derive: Callable[[str], bytes], *, ttl: int,
                 max_attempts: int, max_per_window: int):
        self._crypto = crypto
        self._key = derive("sign-in-code")
        self._stranger_key = derive("sign-in-stranger")
        self.ttl = dt.timedelta(seconds=ttl)
        self.max_attempts = max_attempts
        self.max_per_window = max_per_window

    def _hash(self, email_index: bytes, code: str) -> bytes:
        return hmac.new(self._key, email_index + code.encode(), hashlib.sha256).digest()

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
        index = self._crypto.index.digest("email", normalised)
        stranger = hmac.new(self._stranger_key, normalised.encode(), hashlib.sha256).digest()
        member = repository.find_by_index(session, "email", index)
        active = member is not None and member.status == "active"
        key = index if active else stranger  # never an erased member's blind index again
        now = utcnow()
        recent = session.scalar(
            select(func.count()).select_from(SignInCode).where(
                SignInCode.email_index == key, SignInCode.created_at > now - RATE_WINDOW)
        )
        if (recent or 0) >= self.max_per_window:
            raise TooManyRequests()
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        session.add(SignInCode(email_index=key, code_hash=self._hash(key, code),
                               created_at=now, expires_at=now + self.ttl))
        uow.commit()
        if member is None or not active:
            return None
        return CodeToSend(email=normalised, code=code, member_id=member.id)

    def exchange(self, uow: UnitOfWork, email: str, code: str) -> uuid.UUID:
        """Check a code; on success it is spent and the member id returned."""
        try:
            normalised = normalise_email(email)
        except IdentityError:
            raise SignInFailed() from None
        session = uow.session
        index = self._crypto.index.digest("email", normalised)
        now = utcnow()
        candidates = session.scalars(
            select(SignInCode).where(SignInCode.email_index == index,
                                     SignInCode.used_at.is_(None),
                                     SignInCode.expires_at > now)
            .order_by(SignInCode.created_at.desc())
        ).all()
        live = [c for c in candidates if c.attempts < self.max_attempts]
        if not live or not code.isascii() or not code.isdigit() or len(code) != CODE_DIGITS:
            raise SignInFailed()  # a malformed code cannot match: no guess is spent
        expected = self._hash(index, code)
        match = next((c for c in live if hmac.compare_digest(c.code_hash, expected)), None)
        if match is None:
            # A wrong guess counts against every open code of the address, so requesting
            # more codes never buys more guesses.
            for c in live:
                c.attempts += 1
            uow.commit()
            raise SignInFailed()
        match.used_at = now
        member = repository.find_by_index(session, "email", index)
        if member is None or member.status != "active":
            uow.commit()
            raise SignInFailed()
        # Spend every other open code for this address too.
        for other in candidates:
            if other is not match:
                other.used_at = now
        uow.commit()
        return member.id

    @staticmethod
    def purge_expired(uow: UnitOfWork) -> int:
        result = uow.session.execute(delete(SignInCode).where(SignInCode.expires_at < utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
