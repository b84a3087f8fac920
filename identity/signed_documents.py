"""Signed documents: a compact JWS (ES256, the active token signing key) over a JSON
document's canonical bytes (sorted keys), typed by what it is.

Consent receipts, export manifests and erasure certificates are all signed here, so a
verifier needs one recipe: the JWKS at ``/.well-known/jwks.json`` and the ``typ`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key

ALGORITHM = "ES256"


def canonical(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def sign_document(document: dict[str, Any], key: Key, typ: str) -> str:
    """The compact JWS of ``document``, with ``kid`` and ``typ`` in its header."""
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": typ}
    return jws.serialize_compact(header, canonical(document), key, algorithms=[ALGORITHM])


def check_document(token: str, key_for: Callable[[str], Key | None],
                   typ: str) -> dict[str, Any] | None:
    """The document a compact JWS signs, if the signature verifies with the published key
    its ``kid`` names and its ``typ`` is ``typ``; otherwise ``None``."""
    try:
        header = jws.extract_compact(token.encode()).headers()
        key = key_for(str(header.get("kid")))
        if key is None or header.get("typ") != typ:
            return None
        document = orjson.loads(jws.deserialize_compact(token, key,
                                                        algorithms=[ALGORITHM]).payload)
    except (JoseError, ValueError):
        return None
    return document if isinstance(document, dict) else None
