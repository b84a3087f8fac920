"""Tokens from one external OpenID Connect issuer (Keycloak, Auth0, ...).

Configured by issuer URL, JWKS URL and audience; a claim of the token names the role
(``member``, ``officer`` or ``admin``). A member's external subject must be a member id.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from identity.jwt_checks import TokenRejected, verify_jwt
from identity.principal import Principal

ALGORITHMS = ["RS256", "ES256", "PS256"]
EXTERNAL_ROLES = {"member", "officer", "admin", "client"}


class ExternalIssuer:
    REFRESH_SECONDS = 300.0

    def __init__(self, issuer: str, jwks_url: str, audience: str, role_claim: str):
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.audience = audience
        self.role_claim = role_claim
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._loaded_at = 0.0

    def _fetch(self) -> None:
        try:
            response = httpx.get(self.jwks_url, timeout=5.0)
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError):
            # joserfc raises KeyError/TypeError for a body that is not a JWKS object (a
            # discovery document, a list, null) or names an unknown curve.
            raise TokenRejected("issuer_keys_unavailable") from None
        self._loaded_at = time.monotonic()

    def _key(self, kid: str | None) -> Key | None:
        with self._lock:
            stale = time.monotonic() - self._loaded_at > self.REFRESH_SECONDS
            if self._keys is None or stale:
                self._fetch()
            key = self._find(kid)
            if key is None and time.monotonic() - self._loaded_at > 5.0:
                self._fetch()  # the issuer may have rolled its keys
                key = self._find(kid)
            return key

    def _find(self, kid: str | None) -> Key | None:
        assert self._keys is not None
        for key in self._keys.keys:
            if kid is None or key.kid == kid:
                return key
        return None

    def verify(self, token: str) -> Principal:
        claims: dict[str, Any] = verify_jwt(token, key_for=self._key, algorithms=ALGORITHMS,
                                            issuer=self.issuer, audience=self.audience)
        role = claims.get(self.role_claim)
        if isinstance(role, list):
            role = role[0] if len(role) == 1 else None
        if not isinstance(role, str) or role not in EXTERNAL_ROLES:  # a dict is unhashable
            raise TokenRejected("role_not_mapped")
        scope = claims.get("scope", "")
        return Principal(role=str(role), subject=str(claims["sub"]),
                         client_id=claims.get("azp") or claims.get("client_id"),
                         scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
                         token_id=str(claims.get("jti", "")), issuer=self.issuer)
