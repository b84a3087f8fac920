"""Members' last activity, reported by the loyalty engine (it sees purchases)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from identity import member_number
from identity.encryption import MemberCrypto
from identity.models import Member

MAX_BATCH = 10_000


def record_activity(session: Session, crypto: MemberCrypto, numbers: Sequence[str],
                    at: dt.datetime) -> int:
    """Set the last activity of the given members (never moving it backwards) and clear
    any inactivity notice. Returns how many numbers were well-formed, not how many members
    were updated, so the answer does not tell who is a member."""
    if len(numbers) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} member numbers per call")
    digests = [crypto.index.digest("member_number", n) for n in
               filter(None, (member_number.normalise(raw) for raw in numbers))]
    if not digests:
        return 0
    session.execute(
        update(Member).where(Member.member_number_index.in_(digests),
                             Member.status == "active", Member.last_activity_at < at)
        .values(last_activity_at=at, inactivity_notice_at=None)
        .execution_options(synchronize_session=False))
    return len(digests)
