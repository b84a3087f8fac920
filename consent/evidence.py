"""Consent evidence: how a consent was collected (GDPR Art. 7(1)).

The Global Privacy Control flag stays in the clear (``consent_records.evidence``): it is
proof that outlives the member and identifies nobody. The user agent and the keyed hash of
the IP address could identify the member once the rest of their data is gone (the IPv4
space is small enough to search), so they are sealed under the member's own data key
(``consent_records.sealed_evidence``, AES-256-GCM with the member id and
``consent-evidence:<receipt id>`` as associated data). Erasure destroys that key, so
crypto-shredding covers the evidence too, also where an UPDATE cannot reach: the old row
versions in PostgreSQL's dead tuples and WAL, and backups. While the member exists the
evidence opens for receipts and exports (:func:`open_evidence`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from identity.encryption import MemberCipher

FIELD = "consent-evidence:"


@dataclass(frozen=True)
class Evidence:
    """How the consent was collected; the IP is kept only as a keyed hash."""

    ip_hash: str | None = None
    user_agent: str | None = None
    gpc: bool = False

    @classmethod
    def from_request(cls, ip: str | None, user_agent: str | None, gpc: bool,
                     ip_key: bytes) -> Evidence:
        ip_hash = (hashlib.blake2b(ip.encode(), key=ip_key, digest_size=16).hexdigest()
                   if ip else None)
        return cls(ip_hash=ip_hash, user_agent=(user_agent or "")[:300] or None, gpc=gpc)

    @property
    def identifying(self) -> dict[str, str]:
        """What could identify the member: sealed, never stored in the clear."""
        return {k: v for k, v in (("ip_hash", self.ip_hash), ("user_agent", self.user_agent))
                if v}


class EvidenceRecord(Protocol):
    """A consent record as far as its evidence goes."""

    receipt_id: uuid.UUID
    evidence: dict[str, object]
    sealed_evidence: bytes | None


def _field(receipt_id: uuid.UUID) -> str:
    return FIELD + str(receipt_id)


def seal(cipher: MemberCipher, receipt_id: uuid.UUID,
         evidence: Evidence) -> tuple[dict[str, object], bytes | None]:
    """The record's clear evidence (the GPC flag) and its sealed part (``None`` when
    nothing identifying was collected)."""
    identifying = evidence.identifying
    sealed = (cipher.encrypt(_field(receipt_id), orjson.dumps(identifying).decode())
              if identifying else None)
    return {"gpc": evidence.gpc}, sealed


def open_evidence(cipher: MemberCipher, record: EvidenceRecord) -> Evidence:
    """The record's whole evidence, opened with its member's cipher."""
    gpc = bool((record.evidence or {}).get("gpc"))
    if record.sealed_evidence is None:
        return Evidence(gpc=gpc)
    opened: dict[str, Any] = orjson.loads(
        cipher.decrypt(_field(record.receipt_id), record.sealed_evidence))
    return Evidence(ip_hash=opened.get("ip_hash"), user_agent=opened.get("user_agent"),
                    gpc=gpc)
