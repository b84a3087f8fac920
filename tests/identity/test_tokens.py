"""Bearer-token verification under attack, and signing-key rollover, through ``/graphql``.

Every forged token here is sent to the real app and must be refused with HTTP 401 and a
stable ``reason`` code, before any resolver runs. Where a test needs a *genuine*
signature (to show that a claim check, not the signature check, refuses the token), it
signs with the service's real active key taken from ``services.signing_keys``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from starlette.testclient import TestClient

from identity.errors import IdentityError
from identity.jwt_checks import LEEWAY_SECONDS, MAX_TOKEN_LENGTH
from identity.service import retire_signing_key, roll_signing_key
from membervault.app import create_app
from membervault.services import Services, build_services
from tests.conftest import JANE, client_token, create_principal
from vaultkernel.clock import OffsetClock
from vaultkernel.settings import Settings

LOOKUP = 'query { member(email: "nobody@example.org", reason: "support ticket 4711") { id } }'
ME = "{ me { id email } }"
STACK_TRACE_MARKERS = ("Traceback", 'File "', ".py", "Error", "Exception", "joserfc",
                       "authlib", "sqlalchemy", "line ")


# --- helpers ---------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HMAC-signed JWT built by hand: no library stands between the attacker and us."""
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def es256(key: ECKey, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode({"alg": "ES256", "typ": "at+jwt", **header}, claims, key,
                      algorithms=["ES256"])


def graphql(http: TestClient, authorization: str, query: str = LOOKUP) -> Any:
    return http.post("/graphql", json={"query": query},
                     headers={"authorization": authorization.encode()})


def bearer(http: TestClient, token: str, query: str = LOOKUP) -> Any:
    return graphql(http, f"Bearer {token}", query)


def assert_rejected(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body == {"error": "invalid_token", "reason": reason,
                    "requestId": response.headers["x-request-id"]}
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert f'error_description="{reason}"' in challenge
    for marker in STACK_TRACE_MARKERS:
        assert marker not in response.text
        assert marker not in challenge


def assert_admin_lookup_works(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"member": None}}


@pytest.fixture
def real_key(http: TestClient, services: Services) -> ECKey:
    """The service's own active private signing key (so signatures are genuine)."""
    return services.signing_keys.active()


@pytest.fixture
def admin_claims(settings: Settings, services: Services) -> dict[str, Any]:
    create_principal(services, "test-admin", "admin")  # forged tokens name a real principal
    now = int(time.time())
    return {"iss": settings.issuer, "aud": settings.audience, "sub": "test-admin",
            "exp": now + 300, "nbf": now, "iat": now, "jti": "jti-under-test",
            "client_id": "test-admin", "scope": "", "roles": ["admin"]}


@pytest.fixture
def admin_token(http: TestClient, services: Services) -> str:
    secret = create_principal(services, "test-admin", "admin")
    return client_token(http, "test-admin", secret)


# --- the baselines the attacks are measured against ------------------------------------


def test_a_token_from_the_token_endpoint_is_accepted(http: TestClient, admin_token: str) -> None:
    assert_admin_lookup_works(bearer(http, admin_token))


def test_a_well_formed_token_signed_with_the_real_key_is_accepted(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any]) -> None:
    """The forging helpers below make valid tokens; each attack changes exactly one thing."""
    assert_admin_lookup_works(bearer(http, es256(real_key, admin_claims, kid=real_key.kid)))


def test_no_authorization_header_is_anonymous_not_401(http: TestClient) -> None:
    response = http.post("/graphql", json={"query": LOOKUP})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- algorithm attacks -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("keep_signature", [False, True])
def test_alg_none_is_refused(http: TestClient, admin_token: str, admin_claims: dict[str, Any],
                             real_key: ECKey, alg: str, keep_signature: bool) -> None:
    signature = admin_token.rsplit(".", 1)[1] if keep_signature else ""
    token = (f"{b64url_json({'alg': alg, 'typ': 'at+jwt', 'kid': real_key.kid})}."
             f"{b64url_json(admin_claims)}.{signature}")
    assert_rejected(bearer(http, token), "algorithm_not_allowed")


def _public_key_materials(http: TestClient, key: ECKey) -> dict[str, bytes]:
    published = next(k for k in http.get("/.well-known/jwks.json").json()["keys"]
                     if k["kid"] == key.kid)
    public = key.as_dict(private=False)
    return {
        "published JWK JSON": http.get("/.well-known/jwks.json").content,
        "JWK JSON": json.dumps(published).encode(),
        "compact JWK JSON": json.dumps(published, separators=(",", ":")).encode(),
        "sorted JWK JSON": json.dumps(published, sort_keys=True).encode(),
        "PEM": key.as_pem(private=False),
        "DER": key.as_der(private=False),
        "x||y": unb64url(public["x"]) + unb64url(public["y"]),
        "x": public["x"].encode(),
    }


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_the_public_key_is_refused(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any], alg: str) -> None:
    """Algorithm confusion: the public key (in any encoding) used as an HMAC secret."""
    for name, secret in _public_key_materials(http, real_key).items():
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                  "HS512": hashlib.sha512}[alg]
        header = {"alg": alg, "typ": "at+jwt", "kid": real_key.kid}
        signing_input = f"{b64url_json(header)}.{b64url_json(admin_claims)}"
        mac = hmac.new(secret, signing_input.encode(), digest).digest()
        response = bearer(http, f"{signing_input}.{b64url(mac)}")
        assert response.status_code == 401, name
        assert_rejected(response, "algorithm_not_allowed")


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES384", "ES512", "EdDSA", "es256", ""])
def test_any_algorithm_but_es256_is_refused(http: TestClient, real_key: ECKey,
                                            admin_token: str, alg: str) -> None:
    _, payload, signature = admin_token.split(".")
    header = {"alg": alg, "typ": "at+jwt", "kid": real_key.kid}
    assert_rejected(bearer(http, f"{b64url_json(header)}.{payload}.{signature}"),
                    "algorithm_not_allowed")


def test_missing_alg_is_refused(http: TestClient, real_key: ECKey, admin_token: str) -> None:
    _, payload, signature = admin_token.split(".")
    header = {"typ": "at+jwt", "kid": real_key.kid}
    assert_rejected(bearer(http, f"{b64url_json(header)}.{payload}.{signature}"),
                    "malformed_token")


# --- key attacks -----------------------------------------------------------------------


def test_foreign_key_with_the_real_kid_is_bad_signature(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any]) -> None:
    attacker = ECKey.generate_key("P-256")
    assert_rejected(bearer(http, es256(attacker, admin_claims, kid=real_key.kid)),
                    "bad_signature")


def test_foreign_key_with_an_unknown_kid_is_unknown_key(
        http: TestClient, admin_claims: dict[str, Any]) -> None:
    attacker = ECKey.generate_key("P-256", parameters={"kid": "attacker-key-1"})
    assert_rejected(bearer(http, es256(attacker, admin_claims, kid=attacker.kid)),
                    "unknown_key")


def test_token_without_kid_is_unknown_key(http: TestClient, real_key: ECKey,
                                          admin_claims: dict[str, Any]) -> None:
    """Even the real key's signature is refused when the token does not say which key."""
    assert_rejected(bearer(http, es256(real_key, admin_claims)), "unknown_key")


def test_key_embedded_in_the_header_is_not_trusted(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any]) -> None:
    """CVE-2018-0114 style: the token carries its own ``jwk``; it must be ignored."""
    attacker = ECKey.generate_key("P-256")
    token = es256(attacker, admin_claims, kid=real_key.kid,
                  jwk=attacker.as_dict(private=False))
    assert_rejected(bearer(http, token), "bad_signature")


def test_tampered_payload_is_bad_signature(http: TestClient, services: Services) -> None:
    secret = create_principal(services, "loyalty-engine", purposes=("loyalty.membership",))
    token = client_token(http, "loyalty-engine", secret)
    header, payload, signature = token.split(".")
    claims = json.loads(unb64url(payload))
    assert claims["roles"] == ["client"]

    claims["roles"] = ["admin"]
    forged = f"{header}.{b64url_json(claims)}.{signature}"
    assert_rejected(bearer(http, forged), "bad_signature")

    # the untampered token still works: the refusal is about the change alone
    assert bearer(http, token).json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("part", ["header", "signature"])
def test_tampered_header_or_signature_is_refused(http: TestClient, admin_token: str,
                                                 part: str) -> None:
    header, payload, signature = admin_token.split(".")
    if part == "header":
        changed = {**json.loads(unb64url(header)), "typ": "JWT"}
        response = bearer(http, f"{b64url_json(changed)}.{payload}.{signature}")
    else:
        raw = bytearray(unb64url(signature))
        raw[5] ^= 0x01
        response = bearer(http, f"{header}.{payload}.{b64url(bytes(raw))}")
    assert_rejected(response, "bad_signature")


def test_signature_stripped_is_refused(http: TestClient, admin_token: str) -> None:
    header, payload, _ = admin_token.split(".")
    assert_rejected(bearer(http, f"{header}.{payload}."), "bad_signature")


# --- claim checks (genuine signature, one bad claim) -----------------------------------


def test_expired_beyond_the_leeway_is_token_expired(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any]) -> None:
    now = int(time.time())
    claims = {**admin_claims, "iat": now - 1000, "nbf": now - 1000,
              "exp": now - LEEWAY_SECONDS - 60}
    assert_rejected(bearer(http, es256(real_key, claims, kid=real_key.kid)), "token_expired")


def test_expired_within_the_leeway_is_still_accepted(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any]) -> None:
    """The 30 s leeway absorbs clock skew; it is not a hole of arbitrary size."""
    now = int(time.time())
    claims = {**admin_claims, "iat": now - 600, "nbf": now - 600, "exp": now - 10}
    assert_admin_lookup_works(bearer(http, es256(real_key, claims, kid=real_key.kid)))


def test_not_yet_valid_is_refused(http: TestClient, real_key: ECKey,
                                  admin_claims: dict[str, Any]) -> None:
    now = int(time.time())
    claims = {**admin_claims, "nbf": now + LEEWAY_SECONDS + 600, "exp": now + 3600}
    assert_rejected(bearer(http, es256(real_key, claims, kid=real_key.kid)),
                    "token_not_yet_valid")


def test_issued_in_the_future_is_refused(http: TestClient, real_key: ECKey,
                                         admin_claims: dict[str, Any]) -> None:
    now = int(time.time())
    claims = {**admin_claims, "iat": now + 3600, "exp": now + 7200}
    assert_rejected(bearer(http, es256(real_key, claims, kid=real_key.kid)), "invalid_claims")


@pytest.mark.parametrize("issuer", ["https://evil.example", "http://127.0.0.1:8000/",
                                    "HTTP://127.0.0.1:8000", ""])
def test_wrong_issuer_is_invalid_iss(http: TestClient, real_key: ECKey,
                                     admin_claims: dict[str, Any], issuer: str) -> None:
    claims = {**admin_claims, "iss": issuer}
    response = bearer(http, es256(real_key, claims, kid=real_key.kid))
    assert_rejected(response, "invalid_iss")


@pytest.mark.parametrize("audience", ["another-service", ["another-service", "more"],
                                      "membervault ", "MEMBERVAULT", [], ""])
def test_wrong_audience_is_invalid_aud(http: TestClient, real_key: ECKey,
                                       admin_claims: dict[str, Any], audience: Any) -> None:
    claims = {**admin_claims, "aud": audience}
    assert_rejected(bearer(http, es256(real_key, claims, kid=real_key.kid)), "invalid_aud")


def test_audience_list_naming_this_service_is_accepted(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any],
        settings: Settings) -> None:
    claims = {**admin_claims, "aud": ["another-service", settings.audience]}
    assert_admin_lookup_works(bearer(http, es256(real_key, claims, kid=real_key.kid)))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub"])
def test_missing_required_claim_is_refused(http: TestClient, real_key: ECKey,
                                           admin_claims: dict[str, Any], claim: str) -> None:
    claims = {k: v for k, v in admin_claims.items() if k != claim}
    assert_rejected(bearer(http, es256(real_key, claims, kid=real_key.kid)), "invalid_claims")


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_missing_issuer_or_audience_is_refused(http: TestClient, real_key: ECKey,
                                               admin_claims: dict[str, Any], claim: str) -> None:
    claims = {k: v for k, v in admin_claims.items() if k != claim}
    response = bearer(http, es256(real_key, claims, kid=real_key.kid))
    assert response.status_code == 401
    assert response.json()["reason"] in (f"invalid_{claim}", "invalid_claims")


@pytest.mark.parametrize(("exp", "reason"), [
    ("9999999999", "invalid_claims"),
    (None, "invalid_claims"),
    (True, "invalid_claims"),
    ([9999999999], "invalid_claims"),
    # NaN and Infinity are not JSON (RFC 8259 6); compared as numbers they never expire
    (float("inf"), "malformed_token"),
    (float("nan"), "malformed_token"),
])
def test_non_numeric_exp_is_refused(http: TestClient, real_key: ECKey,
                                    admin_claims: dict[str, Any], exp: Any, reason: str) -> None:
    claims = {**admin_claims, "exp": exp}
    assert_rejected(bearer(http, es256(real_key, claims, kid=real_key.kid)), reason)


@pytest.mark.parametrize("roles", [["superuser"], ["admin", "member"], "admin", [], None,
                                   [["admin"]]])
def test_genuinely_signed_token_with_malformed_roles_is_refused(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any], roles: Any) -> None:
    claims = {**admin_claims, "roles": roles}
    assert_rejected(bearer(http, es256(real_key, claims, kid=real_key.kid)), "invalid_claims")


def test_genuinely_signed_member_token_with_a_non_uuid_subject_is_refused(
        http: TestClient, real_key: ECKey, admin_claims: dict[str, Any]) -> None:
    claims = {**admin_claims, "sub": "not-a-member-id", "roles": ["member"]}
    assert_rejected(bearer(http, es256(real_key, claims, kid=real_key.kid), ME),
                    "invalid_subject")


# --- malformed input and the Authorization header ---------------------------------------


@pytest.mark.parametrize(("token", "reason"), [
    ("garbage", "malformed_token"),
    ("not.a.jwt", "malformed_token"),
    ("a.b", "malformed_token"),
    ("a.b.c.d.e", "malformed_token"),
    ("....", "malformed_token"),
    ("eyJhbGciOiJFUzI1NiJ9", "malformed_token"),
    ("eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln", "malformed_token"),  # payload is not JSON
    ("%%%.%%%.%%%", "malformed_token"),
    ("\u00e9\u00e9\u00e9.\u00e9.\u00e9", "malformed_token"),       # not even ASCII
    ("eyJhbGciOiJFUzI1NiJ9.WzEsMiwzXQ.c2ln", "unknown_key"),      # a JSON array, no kid
])
def test_garbage_is_refused(http: TestClient, token: str, reason: str) -> None:
    assert_rejected(graphql(http, "Bearer " + token), reason)


def test_oversized_token_is_malformed(http: TestClient, admin_token: str) -> None:
    header, payload, signature = admin_token.split(".")
    padded = f"{header}.{payload}{'A' * MAX_TOKEN_LENGTH}.{signature}"
    assert_rejected(bearer(http, padded), "malformed_token")


@pytest.mark.parametrize("template", ["Basic {t}", "Token {t}", "JWT {t}", "Bearer", "Bearer ",
                                      "Bearer    ", "{t}", "Digest {t}", "Bearer{t}"])
def test_a_non_bearer_scheme_is_refused(http: TestClient, admin_token: str,
                                        template: str) -> None:
    response = graphql(http, template.format(t=admin_token))
    assert_rejected(response, "unsupported_authorization_scheme")


def test_bearer_scheme_is_case_insensitive(http: TestClient, admin_token: str) -> None:
    """RFC 7235 2.1: the auth-scheme is case-insensitive."""
    assert_admin_lookup_works(graphql(http, f"bearer {admin_token}"))
    assert_admin_lookup_works(graphql(http, f"BEARER {admin_token}"))


def test_a_rejected_token_never_reaches_a_resolver(http: TestClient, services: Services,
                                                   real_key: ECKey,
                                                   admin_claims: dict[str, Any]) -> None:
    """A refused admin token cannot register a member: the mutation is not executed."""
    attacker = ECKey.generate_key("P-256")
    mutation = """mutation($input: RegisterMemberInput!) {
        registerMember(input: $input) { member { id } errors { code } } }"""
    response = http.post("/graphql", json={"query": mutation, "variables": {"input": JANE}},
                         headers={"authorization": "Bearer "
                                  + es256(attacker, admin_claims, kid=real_key.kid)})
    assert_rejected(response, "bad_signature")
    with services.db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM members")).scalar() == 0


# --- signing-key rollover --------------------------------------------------------------


def _roll(services: Services) -> str:
    with services.db.unit_of_work() as uow:
        return roll_signing_key(uow, services.keyring).kid


def _retire(services: Services, kid: str) -> None:
    with services.db.unit_of_work() as uow:
        retire_signing_key(uow, kid)


def _published_kids(http: TestClient) -> set[str]:
    return {key["kid"] for key in http.get("/.well-known/jwks.json").json()["keys"]}


def _kid_of(token: str) -> str:
    return str(json.loads(unb64url(token.split(".")[0]))["kid"])


def _verifies_against_jwks(http: TestClient, token: str) -> bool:
    keys = KeySet.import_key_set(http.get("/.well-known/jwks.json").json())
    try:
        jwt.decode(token, keys, algorithms=["ES256"])
    except Exception:  # noqa: BLE001  (any failure means "does not verify")
        return False
    return True


def test_rollover_keeps_old_tokens_valid_until_the_old_key_is_retired(
        http: TestClient, services: Services) -> None:
    secret = create_principal(services, "test-admin", "admin")
    old_token = client_token(http, "test-admin", secret)
    old_kid = _kid_of(old_token)
    assert _published_kids(http) == {old_kid}

    new_kid = _roll(services)  # in this process: seen at once, no reload to wait for
    assert new_kid != old_kid

    # both keys are published, the old token still works, new tokens use the new key
    assert _published_kids(http) == {old_kid, new_kid}
    assert_admin_lookup_works(bearer(http, old_token))
    new_token = client_token(http, "test-admin", secret)
    assert _kid_of(new_token) == new_kid
    assert_admin_lookup_works(bearer(http, new_token))
    assert _verifies_against_jwks(http, old_token)
    assert _verifies_against_jwks(http, new_token)

    _retire(services, old_kid)

    assert _published_kids(http) == {new_kid}
    assert_rejected(bearer(http, old_token), "unknown_key")
    assert not _verifies_against_jwks(http, old_token)
    assert_admin_lookup_works(bearer(http, new_token))


def test_the_active_key_cannot_be_retired(services: Services) -> None:
    active_kid = services.signing_keys.active().kid
    assert active_kid is not None
    with pytest.raises(IdentityError, match="roll first") as refused:
        _retire(services, active_kid)
    assert refused.value.code == "SIGNING_KEY_ACTIVE"


def test_retiring_twice_or_an_unknown_kid_fails(services: Services) -> None:
    old_kid = services.signing_keys.active().kid
    assert old_kid is not None
    _roll(services)
    _retire(services, old_kid)
    for kid in (old_kid, "no-such-kid"):
        with pytest.raises(IdentityError) as refused:
            _retire(services, kid)
        assert refused.value.code == "NOT_FOUND"


def test_a_retired_key_cannot_be_revived_by_a_forged_kid(
        http: TestClient, services: Services, admin_claims: dict[str, Any]) -> None:
    """The retired private key itself (e.g. leaked from a backup) no longer signs anything."""
    old_key = services.signing_keys.active()
    _roll(services)
    _retire(services, str(old_key.kid))
    assert_rejected(bearer(http, es256(old_key, admin_claims, kid=old_key.kid)), "unknown_key")


def test_another_process_accepts_a_new_kid_without_waiting_for_its_refresh(
        http: TestClient, services: Services, settings: Settings) -> None:
    """A second server process whose cache predates the roll looks an unknown kid up."""
    secret = create_principal(services, "test-admin", "admin")
    other_clock = OffsetClock()
    other_services = build_services(settings, clock=other_clock)
    with TestClient(create_app(settings, other_services),
                    base_url="http://127.0.0.1:8000") as other:
        assert_admin_lookup_works(bearer(other, client_token(http, "test-admin", secret)))

        _roll(services)
        new_token = client_token(http, "test-admin", secret)
        # the other process reloads on an unknown kid at most once a second
        other_clock.advance(dt.timedelta(seconds=1.1))
        assert_admin_lookup_works(bearer(other, new_token))


def test_a_key_retired_by_another_process_stops_verifying_within_seconds(
        http: TestClient, services: Services, settings: Settings) -> None:
    """Another server process keeps the published keys for at most 5 seconds, then
    reloads them: a retired key's tokens are refused from then on."""
    secret = create_principal(services, "test-admin", "admin")
    old_token = client_token(http, "test-admin", secret)
    _roll(services)
    other_clock = OffsetClock()
    other_services = build_services(settings, clock=other_clock)
    with TestClient(create_app(settings, other_services),
                    base_url="http://127.0.0.1:8000") as other:
        assert_admin_lookup_works(bearer(other, old_token))
        _retire(services, _kid_of(old_token))
        assert_rejected(bearer(http, old_token), "unknown_key")  # this process: at once
        other_clock.advance(dt.timedelta(seconds=5.1))
        assert_rejected(bearer(other, old_token), "unknown_key")
