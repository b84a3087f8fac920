"""The OAuth 2.0 token endpoint (RFC 6749 4.4, client credentials), through the real app.

Real database, real signing keys, real HTTP: every token here comes from ``/oauth/token``
and is checked against the keys the app publishes at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from membervault.services import Services
from tests.conftest import ISSUER, JANE, Api, create_principal, register
from vaultkernel.settings import Settings

ENDPOINT = "/oauth/token"
GRANT = {"grant_type": "client_credentials"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
REGISTER_ERRORS = """
mutation($input: RegisterMemberInput!) { registerMember(input: $input) { errors { code } } }
"""


def published_keys(http: TestClient) -> KeySet:
    response = http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


def decode_with_jwks(http: TestClient, token: str) -> jwt.Token:
    """Verify the token exactly as a resource server would: against the published JWKS."""
    return jwt.decode(token, published_keys(http), algorithms=["ES256"])


def assert_oauth_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


@pytest.fixture
def loyalty_secret(services: Services) -> str:
    return create_principal(services, "loyalty-engine",
                            purposes=("loyalty.membership", "marketing.email"))


# --- client authentication -------------------------------------------------------------


def test_client_secret_basic_obtains_a_bearer_token(http: TestClient, loyalty_secret: str,
                                                    settings: Settings) -> None:
    response = http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", loyalty_secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"  # noqa: S105  (not a password)
    assert body["expires_in"] == settings.client_token_ttl
    assert body["scope"] == "purpose:loyalty.membership purpose:marketing.email"
    assert "refresh_token" not in body  # RFC 6749 4.4.3: no refresh token
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_client_secret_post_obtains_a_bearer_token(http: TestClient,
                                                   loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, data={**GRANT, "client_id": "loyalty-engine",
                                          "client_secret": loyalty_secret})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token = decode_with_jwks(http, response.json()["access_token"])
    assert token.claims["client_id"] == "loyalty-engine"


def test_a_token_from_either_method_is_accepted_by_graphql(http: TestClient,
                                                           loyalty_secret: str) -> None:
    basic = http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", loyalty_secret))
    post = http.post(ENDPOINT, data={**GRANT, "client_id": "loyalty-engine",
                                      "client_secret": loyalty_secret})
    for n, response in enumerate((basic, post)):
        payload = register(Api(http, response.json()["access_token"]),
                           email=f"member{n}@example.org", phone=f"07400 12345{n}")
        assert payload["errors"] == []
        assert payload["member"]["email"] == f"member{n}@example.org"


def test_wrong_secret_is_invalid_client_with_basic(http: TestClient, loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", loyalty_secret + "x"))
    assert_oauth_error(response, 401, "invalid_client")
    # RFC 6749 5.2: 401 for a client that tried HTTP authentication names the scheme
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "access_token" not in response.json()


def test_wrong_secret_is_invalid_client_with_post(http: TestClient, loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, data={**GRANT, "client_id": "loyalty-engine",
                                          "client_secret": loyalty_secret[:-1]})
    assert response.status_code in (400, 401)
    assert_oauth_error(response, response.status_code, "invalid_client")
    assert "access_token" not in response.json()


def test_the_secret_of_one_client_does_not_authenticate_another(
        http: TestClient, services: Services, loyalty_secret: str) -> None:
    create_principal(services, "email-marketing", purposes=("marketing.email",))
    response = http.post(ENDPOINT, data=GRANT, auth=("email-marketing", loyalty_secret))
    assert_oauth_error(response, 401, "invalid_client")


def test_unknown_client_is_invalid_client(http: TestClient, loyalty_secret: str) -> None:
    basic = http.post(ENDPOINT, data=GRANT, auth=("no-such-client", loyalty_secret))
    assert_oauth_error(basic, 401, "invalid_client")
    post = http.post(ENDPOINT, data={**GRANT, "client_id": "no-such-client",
                                      "client_secret": loyalty_secret})
    assert post.status_code in (400, 401)
    assert_oauth_error(post, post.status_code, "invalid_client")


def test_unknown_client_and_wrong_secret_get_the_same_status_and_error(
        http: TestClient, loyalty_secret: str) -> None:
    """Neither answer carries a token, the secret, or a different status or error code."""
    unknown = http.post(ENDPOINT, data=GRANT, auth=("no-such-client", "s3cret"))
    wrong = http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", "s3cret"))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"] == wrong.json()["error"] == "invalid_client"
    assert loyalty_secret not in wrong.text


def test_missing_client_authentication_is_invalid_client(http: TestClient,
                                                         loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, data=GRANT)
    assert response.status_code in (400, 401)
    assert_oauth_error(response, response.status_code, "invalid_client")


def test_client_id_without_secret_is_not_a_public_client(http: TestClient,
                                                         loyalty_secret: str) -> None:
    """RFC 6749 3.2.1: a confidential client must authenticate; ``none`` is not accepted."""
    response = http.post(ENDPOINT, data={**GRANT, "client_id": "loyalty-engine"})
    assert response.status_code in (400, 401)
    assert_oauth_error(response, response.status_code, "invalid_client")


def test_empty_basic_password_is_invalid_client(http: TestClient, loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", ""))
    assert response.status_code in (400, 401)
    assert_oauth_error(response, response.status_code, "invalid_client")


def test_deactivated_client_cannot_obtain_tokens(http: TestClient, services: Services,
                                                 loyalty_secret: str) -> None:
    with services.db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE clients SET active = :f WHERE client_id = :c"),
                           {"f": False, "c": "loyalty-engine"})
    response = http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", loyalty_secret))
    assert_oauth_error(response, 401, "invalid_client")


# --- request shape ---------------------------------------------------------------------


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token",
                                        "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                        "CLIENT_CREDENTIALS", ""])
def test_unsupported_grant_type(http: TestClient, loyalty_secret: str, grant_type: str) -> None:
    response = http.post(ENDPOINT, data={"grant_type": grant_type},
                         auth=("loyalty-engine", loyalty_secret))
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_missing_grant_type(http: TestClient, loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, data={"scope": "purpose:loyalty.membership"},
                         auth=("loyalty-engine", loyalty_secret))
    assert response.status_code == 400
    assert response.json()["error"] in ("unsupported_grant_type", "invalid_request")
    assert "access_token" not in response.json()


@pytest.mark.parametrize("body", [
    "grant_type=client_credentials&grant_type=client_credentials",
    "grant_type=client_credentials&scope=purpose%3Aloyalty.membership"
    "&scope=purpose%3Amarketing.sms",
    "grant_type=client_credentials&client_id=loyalty-engine&client_id=email-marketing",
])
def test_repeated_parameters_are_invalid_request(http: TestClient, loyalty_secret: str,
                                                 body: str) -> None:
    response = http.post(ENDPOINT, content=body, headers=FORM,
                         auth=("loyalty-engine", loyalty_secret))
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", b'{"grant_type": "client_credentials"}'),
    ("text/plain", b"grant_type=client_credentials"),
    ("multipart/form-data; boundary=x",
     b'--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\n'
     b"client_credentials\r\n--x--\r\n"),
])
def test_non_form_body_is_invalid_request(http: TestClient, loyalty_secret: str,
                                          content_type: str, body: bytes) -> None:
    response = http.post(ENDPOINT, content=body, headers={"content-type": content_type},
                         auth=("loyalty-engine", loyalty_secret))
    assert_oauth_error(response, 400, "invalid_request")


def test_form_that_is_not_utf8_is_invalid_request(http: TestClient, loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, content=b"grant_type=client_credentials&scope=\xff\xfe",
                         headers=FORM, auth=("loyalty-engine", loyalty_secret))
    assert_oauth_error(response, 400, "invalid_request")


def test_form_content_type_with_charset_is_accepted(http: TestClient,
                                                    loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, content=b"grant_type=client_credentials",
                         headers={"content-type": "application/x-www-form-urlencoded; "
                                                  "charset=UTF-8"},
                         auth=("loyalty-engine", loyalty_secret))
    assert response.status_code == 200, response.text


def test_get_is_not_allowed(http: TestClient, loyalty_secret: str) -> None:
    response = http.get(ENDPOINT, params=GRANT, auth=("loyalty-engine", loyalty_secret))
    assert response.status_code == 405
    assert "access_token" not in response.text


# --- scopes ----------------------------------------------------------------------------


def test_without_scope_a_client_gets_all_its_registered_purposes(
        http: TestClient, loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", loyalty_secret))
    claims = decode_with_jwks(http, response.json()["access_token"]).claims
    assert claims["scope"] == "purpose:loyalty.membership purpose:marketing.email"


def test_asking_for_a_subset_gives_exactly_the_subset(http: TestClient,
                                                      loyalty_secret: str) -> None:
    response = http.post(ENDPOINT, data={**GRANT, "scope": "purpose:marketing.email"},
                         auth=("loyalty-engine", loyalty_secret))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "purpose:marketing.email"
    claims = decode_with_jwks(http, response.json()["access_token"]).claims
    assert claims["scope"] == "purpose:marketing.email"

    # and the narrowed token really is narrower: membership registration is now refused
    result = Api(http, response.json()["access_token"]).graphql(REGISTER_ERRORS,
                                                                {"input": JANE})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_PERMITTED"


def test_asking_for_all_registered_scopes_explicitly(http: TestClient,
                                                     loyalty_secret: str) -> None:
    response = http.post(
        ENDPOINT, auth=("loyalty-engine", loyalty_secret),
        data={**GRANT, "scope": "purpose:marketing.email  purpose:loyalty.membership"})
    assert response.status_code == 200, response.text
    claims = decode_with_jwks(http, response.json()["access_token"]).claims
    assert claims["scope"] == "purpose:loyalty.membership purpose:marketing.email"


@pytest.mark.parametrize("scope", [
    "purpose:marketing.sms",                              # a real purpose, not registered
    "purpose:loyalty.membership purpose:marketing.sms",   # one too many
    "purpose:no.such.purpose",
    "purpose:",
    "loyalty.membership",                                 # without the prefix
    "openid",
    "admin",
    "roles:admin",
    "PURPOSE:loyalty.membership",
    " ",
])
def test_a_scope_outside_the_registration_is_invalid_scope(http: TestClient,
                                                           loyalty_secret: str,
                                                           scope: str) -> None:
    response = http.post(ENDPOINT, data={**GRANT, "scope": scope},
                         auth=("loyalty-engine", loyalty_secret))
    assert_oauth_error(response, 400, "invalid_scope")
    assert "access_token" not in response.json()


def test_a_client_without_purposes_gets_no_scope(http: TestClient, services: Services) -> None:
    secret = create_principal(services, "no-purposes")
    response = http.post(ENDPOINT, data=GRANT, auth=("no-purposes", secret))
    assert response.status_code == 200, response.text
    assert "scope" not in response.json()
    claims = decode_with_jwks(http, response.json()["access_token"]).claims
    assert claims["scope"] == ""
    assert claims["roles"] == ["client"]


@pytest.mark.parametrize("role", ["officer", "admin"])
def test_officer_and_admin_tokens_carry_their_role_and_no_purpose(
        http: TestClient, services: Services, role: str) -> None:
    secret = create_principal(services, f"test-{role}", role)
    response = http.post(ENDPOINT, data=GRANT, auth=(f"test-{role}", secret))
    assert response.status_code == 200, response.text
    assert "scope" not in response.json()
    claims = decode_with_jwks(http, response.json()["access_token"]).claims
    assert claims["roles"] == [role]
    assert claims["sub"] == claims["client_id"] == f"test-{role}"
    assert not [s for s in claims["scope"].split() if s.startswith("purpose:")]

    asked = http.post(ENDPOINT, data={**GRANT, "scope": "purpose:loyalty.membership"},
                      auth=(f"test-{role}", secret))
    assert_oauth_error(asked, 400, "invalid_scope")


# --- the token itself ------------------------------------------------------------------


def test_token_is_an_rfc9068_jwt_verified_by_the_published_jwks(
        http: TestClient, settings: Settings, loyalty_secret: str) -> None:
    before = int(time.time())
    response = http.post(ENDPOINT, data={**GRANT, "scope": "purpose:loyalty.membership"},
                         auth=("loyalty-engine", loyalty_secret))
    after = int(time.time())
    token = response.json()["access_token"]

    decoded = decode_with_jwks(http, token)
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["alg"] == "ES256"
    assert decoded.header["kid"] in {k.kid for k in published_keys(http).keys}

    claims = decoded.claims
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} <= set(claims)
    assert claims["iss"] == ISSUER == settings.issuer
    assert claims["aud"] == settings.audience
    assert claims["sub"] == "loyalty-engine"
    assert claims["client_id"] == "loyalty-engine"
    assert claims["scope"] == "purpose:loyalty.membership"
    assert claims["roles"] == ["client"]
    assert before <= claims["iat"] <= after
    assert claims["exp"] - claims["iat"] == settings.client_token_ttl
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16

    # the registered claims also pass a strict validation by a third party
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.audience},
        sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
        jti={"essential": True}, client_id={"essential": True},
    ).validate(claims)


def test_every_token_has_a_fresh_jti(http: TestClient, loyalty_secret: str) -> None:
    tokens = [http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", loyalty_secret))
              .json()["access_token"] for _ in range(3)]
    jtis = {decode_with_jwks(http, t).claims["jti"] for t in tokens}
    assert len(jtis) == 3


def test_jwks_publishes_only_public_ec_keys(http: TestClient) -> None:
    response = http.get("/.well-known/jwks.json")
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "EC"
        assert key["crv"] == "P-256"
        assert key["alg"] == "ES256"
        assert key["use"] == "sig"
        assert key["kid"]
        assert "d" not in key  # never the private scalar


# --- secrets at rest -------------------------------------------------------------------


def _every_stored_value(services: Services) -> list[Any]:
    values: list[Any] = []
    with services.db.engine.connect() as connection:
        for table in sa.inspect(connection).get_table_names():
            for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):  # noqa: S608
                values.extend(row)
    return values


def test_client_secrets_are_stored_hashed(http: TestClient, services: Services,
                                          loyalty_secret: str) -> None:
    with services.db.engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT * FROM clients WHERE client_id = 'loyalty-engine'")).mappings().one()
    stored_hash = bytes(row["secret_hash"])
    assert len(stored_hash) == 32
    assert stored_hash != loyalty_secret.encode()
    # an unkeyed hash of the secret is not what is stored either
    assert stored_hash != hashlib.sha256(loyalty_secret.encode()).digest()

    needles = {loyalty_secret.encode(),
               base64.urlsafe_b64decode(loyalty_secret + "=" * (-len(loyalty_secret) % 4))}
    for value in _every_stored_value(services):
        if isinstance(value, memoryview):
            value = bytes(value)
        haystack = value if isinstance(value, bytes) else str(value).encode()
        for needle in needles:
            assert needle not in haystack

    # and the stored verifier still authenticates the secret it was made from
    response = http.post(ENDPOINT, data=GRANT, auth=("loyalty-engine", loyalty_secret))
    assert response.status_code == 200


def test_the_token_response_does_not_echo_the_secret(http: TestClient,
                                                     loyalty_secret: str) -> None:
    ok = http.post(ENDPOINT, data={**GRANT, "client_id": "loyalty-engine",
                                    "client_secret": loyalty_secret})
    bad = http.post(ENDPOINT, data={**GRANT, "client_id": "loyalty-engine",
                                     "client_secret": loyalty_secret + "x"})
    for response in (ok, bad):
        assert loyalty_secret not in response.text
        assert loyalty_secret not in str(response.headers)
