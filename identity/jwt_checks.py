"""Strict JWT verification shared by our own tokens and an external OIDC issuer.

Fails closed with a reason code: the algorithm is pinned by the caller (no ``none``, no
HMAC with a public key), and issuer, audience, subject, expiry and issued-at are required
and checked; not-before is checked when present (and required for our own tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import Key

LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192


class TokenRejected(Exception):
    """The bearer token is not acceptable; ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(jws.extract_compact(token.encode()).protected)
    except (JoseError, ValueError, UnicodeError):
        raise TokenRejected("malformed_token") from None


def verify_jwt(token: str, *, key_for: Callable[[str | None], Key | None],
               algorithms: list[str], issuer: str, audience: str,
               token_type: str | None = None, require_nbf: bool = False) -> dict[str, Any]:
    """Verify signature and registered claims; return the claims or raise TokenRejected.

    ``token_type`` pins the ``typ`` header (RFC 9068 4: ``at+jwt``), so another kind of
    JWS signed with the same key (a consent receipt, say) is never taken for a token.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRejected("malformed_token")
    header = _header(token)
    alg = header.get("alg")
    if alg not in algorithms:
        raise TokenRejected("algorithm_not_allowed")
    key = key_for(header.get("kid"))
    if key is None:
        raise TokenRejected("unknown_key")
    try:
        decoded = jwt.decode(token, key, algorithms=algorithms)
    except BadSignatureError:
        raise TokenRejected("bad_signature") from None
    except JoseError:
        raise TokenRejected("malformed_token") from None
    if token_type is not None and str(header.get("typ", "")).lower() != token_type:
        raise TokenRejected("wrong_token_type")
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nbf={"essential": require_nbf},
    )
    claims = decoded.claims
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise TokenRejected("token_expired") from None
    except ClaimError as exc:
        claim = getattr(exc, "claim", "") or ""
        if claim == "nbf" or "not yet valid" in str(exc):
            raise TokenRejected("token_not_yet_valid") from None
        if claim in {"iss", "aud"}:
            raise TokenRejected(f"invalid_{claim}") from None
        raise TokenRejected("invalid_claims") from None
    return claims


def token_kid(token: str) -> str:
    """The ``kid`` of a token's header (of a token already verified)."""
    kid = _header(token).get("kid")
    return kid if isinstance(kid, str) else ""


def unverified_claims(token: str) -> dict[str, Any]:
    """Only used to route to the right verifier; nothing here is trusted."""
    try:
        obj = jws.extract_compact(token.encode())
        claims = orjson.loads(obj.payload)
    except (JoseError, ValueError, UnicodeError):
        raise TokenRejected("malformed_token") from None
    return claims if isinstance(claims, dict) else {}
