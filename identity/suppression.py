"""The marketing suppression list, and what it means for an address that comes back.

The erasure (``retention.shredding``) keeps a keyed hash (HMAC-SHA256) of an erased
member's email when their latest choice for some direct-marketing purpose was a
withdrawal: their objection to direct marketing (GDPR Art. 21(3)) must stay effective
after everything else about them is gone.

An erased address may register again: it becomes a fresh member (new id, new number;
nothing links them to the erased one, whose keys and indexes are gone). When the address
of a member (at registration, or when they change their email) is on the list, the
member is marked ``marketing_suppressed_at`` and the audit trail records it
(``marketing.suppressed``). From then on each purpose the policy marks
``direct_marketing`` may be granted only by the member themself: a grant recorded by a
client (a store till, the app back end, an import) is refused ``MARKETING_SUPPRESSED``
until the member has granted that purpose in their own name (``consent.ledger``), which
the audit trail records too (``marketing.suppression_lifted``). The list entry itself
stays: it tells an import for marketing that the address must not be used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy.orm import Session

from audit import trail
from identity.encryption import MemberCrypto
from identity.errors import IdentityError
from identity.models import Member, SuppressedEmail
from identity.validation import normalise_email

ACTOR = "system:suppression-list"


def address_hash(crypto: MemberCrypto, email: str) -> bytes:
    """HMAC-SHA256 of the normalised address: equal addresses match, none can be read back."""
    return hmac.new(crypto.suppression_key, normalise_email(email).encode(),
                    hashlib.sha256).digest()


def is_suppressed(session: Session, crypto: MemberCrypto, email: str) -> bool:
    """Whether an address is on the list (an import for marketing must skip it). A
    malformed address is never suppressed."""
    try:
        digest = address_hash(crypto, email)
    except IdentityError:
        return False
    return session.get(SuppressedEmail, digest) is not None


def mark_if_listed(session: Session, crypto: MemberCrypto, member: Member, email: str, *,
                   now: dt.datetime) -> bool:
    """Mark ``member`` marketing-suppressed when ``email`` (becoming theirs) is on the
    list, in the caller's transaction; returns whether it did. One primary-key look-up
    either way."""
    if not is_suppressed(session, crypto, email) or member.marketing_suppressed_at is not None:
        return False
    member.marketing_suppressed_at = now
    trail.record(session, ACTOR, "marketing.suppressed", member.id,
                 reason="the email address is on the marketing suppression list")
    return True
