"""How many wrong sign-in codes may be tried in a window: per address (across all its
codes, so asking for a new code buys no guess), per caller (client IP) and overall.

Each well-formed guess is recorded, and committed, *before* its code is checked, then
the guesses in the window are counted: concurrent guesses see each other, so no burst can
slip past a limit. A guess over any limit is withdrawn unchecked and refused with the time
until the oldest guess it counted leaves the window; a right code withdraws its record, so
only wrong guesses count. Records leave once they are out of the window (pruned as new
guesses come, and by the worker), and with the member at erasure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from identity.models import SignInGuess
from vaultkernel.database import Database, UnitOfWork

WINDOW = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class GuessLimits:
    """Wrong guesses allowed per :data:`WINDOW`."""

    per_address: int
    per_caller: int
    overall: int
    window: dt.timedelta = WINDOW


@dataclass(frozen=True)
class Refusal:
    """Which limit a guess went over, and when to try again."""

    limit: str  # "address" | "caller" | "overall"
    retry_after: int  # seconds


def caller_key(key: bytes, address: str) -> bytes:
    """A keyed hash of the caller's IP address: the IP itself is never stored."""
    return hashlib.blake2b(address.encode(), key=key, digest_size=16).digest()


def record_guess(uow: UnitOfWork, limits: GuessLimits, *, email_index: bytes, caller: bytes,
                 now: dt.datetime) -> tuple[int, Refusal | None]:
    """Record a guess and count it; returns its id and, when it went over a limit (it is
    then withdrawn), the refusal. Commits."""
    session = uow.session
    prune(session, limits, now)
    guess = SignInGuess(guessed_at=now, email_index=email_index, caller=caller)
    session.add(guess)
    uow.commit()
    refusal = _over_limit(session, limits, email_index, caller, now)
    if refusal is not None:
        withdraw(session, guess.id)
        uow.commit()
    return guess.id, refusal


def withdraw(session: Session, guess_id: int) -> None:
    """The guess does not count: it was right, or refused unchecked."""
    session.execute(delete(SignInGuess).where(SignInGuess.id == guess_id))


def prune(session: Session, limits: GuessLimits, now: dt.datetime) -> int:
    result = session.execute(delete(SignInGuess)
                             .where(SignInGuess.guessed_at <= now - limits.window))
    return int(getattr(result, "rowcount", 0) or 0)


def prune_expired(db: Database, limits: GuessLimits, now: dt.datetime) -> int:
    """The worker's step: delete the guesses that no longer count."""
    with db.unit_of_work() as uow:
        pruned = prune(uow.session, limits, now)
        uow.commit()
    return pruned


def _over_limit(session: Session, limits: GuessLimits, email_index: bytes, caller: bytes,
                now: dt.datetime) -> Refusal | None:
    same_address = SignInGuess.email_index == email_index
    same_caller = SignInGuess.caller == caller
    row = session.execute(
        select(func.sum(case((same_address, 1), else_=0)),
               func.min(case((same_address, SignInGuess.guessed_at))),
               func.sum(case((same_caller, 1), else_=0)),
               func.min(case((same_caller, SignInGuess.guessed_at))),
               func.count(),
               func.min(SignInGuess.guessed_at))
        .where(SignInGuess.guessed_at > now - limits.window)).one()
    for name, limit, count, oldest in (("address", limits.per_address, row[0], row[1]),
                                       ("caller", limits.per_caller, row[2], row[3]),
                                       ("overall", limits.overall, row[4], row[5])):
        if (count or 0) > limit:
            return Refusal(name, seconds_until(oldest + limits.window, now))
    return None


def seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
