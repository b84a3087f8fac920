"""Tokens of an external OpenID Connect issuer, through the real app.

The issuer's keys are served by a real HTTP server on 127.0.0.1 (an ephemeral port, in a
thread); the app fetches them with its own HTTP client. Tokens are minted with joserfc
from an RSA key generated here, exactly as Keycloak or Auth0 would sign them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.testclient import TestClient

from identity.jwt_checks import TokenRejected
from identity.oidc import ExternalIssuer
from membervault.app import create_app
from membervault.services import Services, build_services
from tests.conftest import Api, client_token, create_principal
from vaultkernel.settings import Settings

AUDIENCE = "membervault-api"
ROLE_CLAIM = "membervault_role"
KID = "idp-signing-1"
LOOKUP = "query($email: String) { member(email: $email, reason: \"support ticket 4711\") { id email } }"
ME = "{ me { id email givenName } }"


class JwksServer:
    """A real HTTP server publishing a JWKS; tests change what it serves as they go."""

    def __init__(self) -> None:
        self.body: bytes = b'{"keys": []}'
        self.status = 200
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (the http.server API)
                server.requests.append(self.path)
                body = server.body if self.path == "/jwks.json" else b'{"error":"not_found"}'
                status = server.status if self.path == "/jwks.json" else 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep the test output clean

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.jwks_url = f"{self.url}/jwks.json"
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._running = True

    def publish(self, *keys: RSAKey | ECKey) -> None:
        self.body = json.dumps({"keys": [k.as_dict(private=False) for k in keys]}).encode()

    def stop(self) -> None:
        if self._running:
            self._running = False
            self.httpd.shutdown()
            self.httpd.server_close()
            self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def idp_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="module")
def attacker_rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture
def idp(idp_key: RSAKey) -> Iterator[JwksServer]:
    server = JwksServer()
    server.publish(idp_key)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def oidc_settings(settings: Settings, idp: JwksServer) -> Settings:
    return settings.replace(oidc_issuer=f"{idp.url}/realms/retail", oidc_jwks_url=idp.jwks_url,
                            oidc_audience=AUDIENCE, oidc_role_claim=ROLE_CLAIM)


@pytest.fixture
def oidc_services(oidc_settings: Settings) -> Iterator[Services]:
    services = build_services(oidc_settings)
    yield services
    services.close()


@pytest.fixture
def oidc_http(oidc_settings: Settings, oidc_services: Services) -> Iterator[TestClient]:
    """The real app, configured to accept the external issuer's tokens too."""
    with TestClient(create_app(oidc_settings, oidc_services),
                    base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.fixture
def mint(idp_key: RSAKey, oidc_settings: Settings) -> Any:
    """Mint an RS256 token of the external issuer; keyword arguments override claims."""

    def mint(mapped_role: Any = "admin", *, key: RSAKey | ECKey = idp_key, alg: str = "RS256",
             header: dict[str, Any] | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": oidc_settings.oidc_issuer, "aud": AUDIENCE, "sub": "idp-user-4711",
                  "exp": now + 300, "iat": now, "nbf": now, "jti": uuid.uuid4().hex,
                  "azp": "retail-backoffice", ROLE_CLAIM: mapped_role, **overrides}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": alg, "kid": key.kid or KID, **(header or {})}, claims, key,
                          algorithms=[alg])

    return mint


def call(http: TestClient, token: str, query: str = LOOKUP,
         variables: dict[str, Any] | None = None) -> Any:
    return http.post("/graphql", json={"query": query, "variables": variables or {}},
                     headers={"authorization": f"Bearer {token}"})


def assert_rejected(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body == {"error": "invalid_token", "reason": reason,
                    "requestId": response.headers["x-request-id"]}
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    for marker in ("Traceback", 'File "', "Error", "Exception", "httpx", "joserfc"):
        assert marker not in response.text


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- accepted external tokens ----------------------------------------------------------


def test_external_admin_token_can_use_the_admin_member_lookup(
        oidc_http: TestClient, mint: Any, jane: dict[str, Any], idp: JwksServer) -> None:
    response = call(oidc_http, mint("admin"), variables={"email": jane["email"]})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"member": {"id": jane["id"], "email": jane["email"]}}}
    assert idp.requests == ["/jwks.json"]  # the keys were really fetched over HTTP


def test_external_role_may_be_a_single_element_list(
        oidc_http: TestClient, mint: Any, jane: dict[str, Any]) -> None:
    response = call(oidc_http, mint(["admin"]), variables={"email": jane["email"]})
    assert response.json()["data"]["member"]["id"] == jane["id"]


def test_external_member_token_reads_own_profile(
        oidc_http: TestClient, mint: Any, jane: dict[str, Any]) -> None:
    response = call(oidc_http, mint("member", sub=jane["id"]), ME)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": {"id": jane["id"], "email": jane["email"],
                                               "givenName": jane["givenName"]}}}


@pytest.mark.parametrize("role", ["member", "officer"])
def test_external_non_admin_cannot_use_the_admin_lookup(
        oidc_http: TestClient, mint: Any, jane: dict[str, Any], role: str) -> None:
    token = mint(role, sub=jane["id"])
    response = call(oidc_http, token, variables={"email": jane["email"]})
    assert response.status_code == 200
    assert response.json()["data"] == {"member": None}
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert jane["id"] not in response.text


def test_external_keys_are_cached_between_requests(
        oidc_http: TestClient, mint: Any, idp: JwksServer) -> None:
    for _ in range(3):
        assert call(oidc_http, mint("admin"), variables={"email": "x@example.org"}).json() == {
            "data": {"member": None}}
    assert idp.requests == ["/jwks.json"]


def test_our_own_tokens_still_work_with_an_external_issuer_configured(
        oidc_http: TestClient, oidc_services: Services) -> None:
    secret = create_principal(oidc_services, "test-admin", "admin")
    api = Api(oidc_http, client_token(oidc_http, "test-admin", secret))
    assert api.graphql(LOOKUP, {"email": "x@example.org"}) == {"data": {"member": None}}


# --- refused external tokens -----------------------------------------------------------


@pytest.mark.parametrize("role", [None, "", "superuser", "Admin", "ADMIN", "root", "member ",
                                  ["admin", "member"], [], 1, True, {"admin": True},
                                  [["admin"]]])
def test_missing_or_unknown_role_is_role_not_mapped(oidc_http: TestClient, mint: Any,
                                                    role: Any) -> None:
    assert_rejected(call(oidc_http, mint(role)), "role_not_mapped")


def test_role_in_another_claim_is_not_mapped(oidc_http: TestClient, mint: Any) -> None:
    token = mint(None, roles=["admin"], realm_access={"roles": ["admin"]}, role="admin")
    assert_rejected(call(oidc_http, token), "role_not_mapped")


@pytest.mark.parametrize("audience", ["membervault", "account", ["account", "broker"],
                                      AUDIENCE.upper(), ""])
def test_wrong_audience_is_refused(oidc_http: TestClient, mint: Any, audience: Any) -> None:
    """Including our own internal audience: the external issuer has its own."""
    assert_rejected(call(oidc_http, mint("admin", aud=audience)), "invalid_aud")


def test_missing_audience_is_refused(oidc_http: TestClient, mint: Any) -> None:
    response = call(oidc_http, mint("admin", aud=None))
    assert response.status_code == 401
    assert response.json()["reason"] in ("invalid_aud", "invalid_claims")


def test_expired_external_token_is_refused(oidc_http: TestClient, mint: Any) -> None:
    now = int(time.time())
    token = mint("admin", iat=now - 3600, nbf=now - 3600, exp=now - 120)
    assert_rejected(call(oidc_http, token), "token_expired")


def test_external_token_signed_by_a_key_not_in_the_jwks_is_refused(
        oidc_http: TestClient, mint: Any, attacker_rsa_key: RSAKey) -> None:
    # the attacker reuses the issuer's kid: the signature does not verify
    assert_rejected(call(oidc_http, mint("admin", key=attacker_rsa_key,
                                         header={"kid": KID})), "bad_signature")
    # the attacker names a key of its own: the issuer does not publish it
    assert_rejected(call(oidc_http, mint("admin", key=attacker_rsa_key,
                                         header={"kid": "attacker-1"})), "unknown_key")


def test_external_token_signed_by_a_foreign_ec_key_is_refused(oidc_http: TestClient,
                                                              mint: Any) -> None:
    attacker = ECKey.generate_key("P-256")
    response = call(oidc_http, mint("admin", key=attacker, alg="ES256", header={"kid": KID}))
    assert response.status_code == 401
    assert response.json()["reason"] in ("bad_signature", "malformed_token")


@pytest.mark.parametrize("secret_of", ["JWK JSON", "PEM", "modulus"])
def test_external_token_using_hs256_is_algorithm_not_allowed(
        oidc_http: TestClient, idp_key: RSAKey, oidc_settings: Settings,
        secret_of: str) -> None:
    """Algorithm confusion: the issuer's public key used as an HMAC secret."""
    public = idp_key.as_dict(private=False)
    secret = {"JWK JSON": json.dumps(public).encode(), "PEM": idp_key.as_pem(private=False),
              "modulus": public["n"].encode()}[secret_of]
    now = int(time.time())
    header = {"alg": "HS256", "kid": KID, "typ": "JWT"}
    claims = {"iss": oidc_settings.oidc_issuer, "aud": AUDIENCE, "sub": "idp-user-4711",
              "exp": now + 300, "iat": now, ROLE_CLAIM: "admin"}
    signing_input = (b64url(json.dumps(header).encode()) + "."
                     + b64url(json.dumps(claims).encode()))
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert_rejected(call(oidc_http, f"{signing_input}.{b64url(mac)}"), "algorithm_not_allowed")


def test_external_token_with_alg_none_is_refused(oidc_http: TestClient, mint: Any) -> None:
    _, payload, _ = mint("admin").split(".")
    header = b64url(json.dumps({"alg": "none", "kid": KID}).encode())
    assert_rejected(call(oidc_http, f"{header}.{payload}."), "algorithm_not_allowed")


def test_tampered_external_token_is_bad_signature(oidc_http: TestClient, mint: Any) -> None:
    header, payload, signature = mint("member", sub=str(uuid.uuid4())).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[ROLE_CLAIM] = "admin"
    forged = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    assert_rejected(call(oidc_http, forged), "bad_signature")


@pytest.mark.parametrize("subject", ["idp-user-4711", "", "123", "not-a-uuid-at-all",
                                     "../../admin"])
def test_external_member_with_a_non_uuid_subject_is_invalid_subject(
        oidc_http: TestClient, mint: Any, subject: str) -> None:
    response = call(oidc_http, mint("member", sub=subject), ME)
    assert response.status_code == 401
    # an empty subject already fails the claim check
    assert_rejected(response, "invalid_claims" if subject == "" else "invalid_subject")


def test_external_member_that_is_not_registered_reads_nothing(
        oidc_http: TestClient, mint: Any, jane: dict[str, Any]) -> None:
    response = call(oidc_http, mint("member", sub=str(uuid.uuid4())), ME)
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert jane["email"] not in response.text


# --- issuer confusion ------------------------------------------------------------------


def test_token_signed_by_our_key_but_naming_the_external_issuer_is_refused(
        oidc_http: TestClient, oidc_settings: Settings, oidc_services: Services) -> None:
    """Our own key is not a key of the external issuer (and vice versa)."""
    our_key = oidc_services.signing_keys.active()
    now = int(time.time())
    claims = {"iss": oidc_settings.oidc_issuer, "aud": AUDIENCE, "sub": "x", "exp": now + 60,
              "iat": now, ROLE_CLAIM: "admin", "roles": ["admin"]}
    token = jwt.encode({"alg": "ES256", "kid": our_key.kid}, claims, our_key,
                       algorithms=["ES256"])
    assert_rejected(call(oidc_http, token), "unknown_key")


def test_external_token_naming_our_issuer_is_refused(
        oidc_http: TestClient, mint: Any, oidc_settings: Settings) -> None:
    token = mint("admin", iss=oidc_settings.issuer, aud=oidc_settings.audience,
                 roles=["admin"])
    assert_rejected(call(oidc_http, token), "algorithm_not_allowed")


@pytest.mark.parametrize("suffix", ["/", "/../retail", "x"])
def test_external_token_with_a_look_alike_issuer_is_refused(
        oidc_http: TestClient, mint: Any, oidc_settings: Settings, suffix: str) -> None:
    token = mint("admin", iss=oidc_settings.oidc_issuer + suffix)
    response = call(oidc_http, token)
    assert response.status_code == 401
    assert response.json()["reason"] in ("algorithm_not_allowed", "invalid_iss")


def test_external_issuer_is_not_trusted_when_not_configured(
        http: TestClient, mint: Any) -> None:
    """The default app (no OIDC settings) refuses the same, otherwise valid, token."""
    assert_rejected(call(http, mint("admin")), "algorithm_not_allowed")


def test_keys_named_in_the_token_header_are_never_fetched(
        oidc_http: TestClient, mint: Any, attacker_rsa_key: RSAKey) -> None:
    """``jku``/``x5u`` headers pointing at the attacker's keys are ignored."""
    attacker_server = JwksServer()
    try:
        attacker = RSAKey.generate_key(2048, parameters={"kid": "attacker-1"})
        attacker_server.publish(attacker)
        header = {"kid": "attacker-1", "jku": attacker_server.jwks_url,
                  "x5u": attacker_server.jwks_url}
        assert_rejected(call(oidc_http, mint("admin", key=attacker, header=header)),
                        "unknown_key")
        assert attacker_server.requests == []
    finally:
        attacker_server.stop()


# --- the issuer's JWKS endpoint failing ------------------------------------------------


def test_jwks_server_down_is_issuer_keys_unavailable(
        oidc_http: TestClient, mint: Any, idp: JwksServer) -> None:
    idp.stop()
    assert_rejected(call(oidc_http, mint("admin")), "issuer_keys_unavailable")


@pytest.mark.parametrize(("status", "body"), [
    (500, b'{"error": "oops"}'),
    (404, b"not found"),
    (200, b"<html>not json</html>"),
    (200, b'{"keys": "not a list"}'),
    (200, b"[]"),
    (200, b"null"),
    # a common misconfiguration: the discovery document instead of the JWKS
    (200, b'{"issuer": "x", "jwks_uri": "http://127.0.0.1/jwks.json"}'),
    (200, b'{"keys": [{"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA"}]}'),
])
def test_broken_jwks_is_issuer_keys_unavailable(oidc_http: TestClient, mint: Any,
                                                idp: JwksServer, status: int,
                                                body: bytes) -> None:
    idp.status, idp.body = status, body
    assert_rejected(call(oidc_http, mint("admin")), "issuer_keys_unavailable")


def test_cached_keys_keep_working_while_the_jwks_server_is_briefly_down(
        oidc_http: TestClient, mint: Any, idp: JwksServer) -> None:
    ok = {"data": {"member": None}}
    assert call(oidc_http, mint("admin"), variables={"email": "x@example.org"}).json() == ok
    idp.stop()
    assert call(oidc_http, mint("admin"), variables={"email": "x@example.org"}).json() == ok


def test_external_issuer_without_network_refuses_and_recovers(
        idp: JwksServer, idp_key: RSAKey, mint: Any, oidc_settings: Settings) -> None:
    """The verifier itself: a failed fetch is not cached as "no keys"."""
    issuer = ExternalIssuer(oidc_settings.oidc_issuer, idp.jwks_url, AUDIENCE, ROLE_CLAIM)
    idp.status = 503
    with pytest.raises(TokenRejected) as refused:
        issuer.verify(mint("admin"))
    assert refused.value.reason == "issuer_keys_unavailable"
    idp.status = 200
    principal = issuer.verify(mint("officer"))
    assert principal.role == "officer"
    assert principal.subject == "idp-user-4711"
    assert principal.issuer == oidc_settings.oidc_issuer
