"""The OAuth 2.0 token endpoint (RFC 6749 4.4, client credentials) on authlib's
framework-agnostic ``AuthorizationServer``; the HTTP layer hands it a parsed form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant

from identity.clients import SecretHasher
from identity.models import Client
from identity.principal import purpose_scope
from identity.tokens import TokenIssuer
from vaultkernel.database import Database


class FormPayload(OAuth2Payload):
    def __init__(self, form: Mapping[str, str]):
        self._data = dict(form)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {k: [v] for k, v in self._data.items()}


class FormRequest(OAuth2Request):
    def __init__(self, uri: str, headers: Mapping[str, str], form: Mapping[str, str]):
        super().__init__(method="POST", uri=uri, headers=headers)  # case-insensitive
        self.payload = FormPayload(form)
        self._form = dict(form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class RegisteredClient(ClientMixin):
    def __init__(self, row: Client, hasher: SecretHasher):
        self.row = row
        self._hasher = hasher

    def get_client_id(self) -> str:
        return self.row.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return self._hasher.matches(client_secret, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    @property
    def allowed_scopes(self) -> set[str]:
        if self.row.role != "client":
            return set()
        return {purpose_scope(p) for p in self.row.allowed_purposes}


class ClientCredentials(ClientCredentialsGrant):
    # authlib's grants accept only client_secret_basic by default; RFC 6749 2.3.1 also
    # allows the credentials in the form body, which RegisteredClient permits.
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class TokenEndpoint(AuthorizationServer):
    def __init__(self, db: Database, hasher: SecretHasher, issuer: TokenIssuer, ttl: int):
        super().__init__()
        self._db = db
        self._hasher = hasher
        self._issuer = issuer
        self._ttl = ttl
        self.register_grant(ClientCredentials)
        self.register_token_generator("client_credentials", self._generate)

    def query_client(self, client_id: str) -> RegisteredClient | None:
        with self._db.unit_of_work() as uow:
            row = uow.session.get(Client, client_id)
        if row is None or not row.active:
            return None
        return RegisteredClient(row, self._hasher)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs: nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, list(headers)

    def validate_requested_scope(self, scope: str | None) -> None:
        if scope is not None and (len(scope) > 2000 or not scope.strip()):
            raise InvalidScopeError()

    def _generate(self, grant_type: str, client: RegisteredClient, user: Any = None,
                  scope: str | None = None, expires_in: int | None = None,
                  include_refresh_token: bool = False) -> dict[str, Any]:
        allowed = client.allowed_scopes
        requested = set(scope.split()) if scope else allowed
        if not requested <= allowed:
            raise InvalidScopeError(description="the client may not obtain the requested scope")
        row = client.row
        token, claims = self._issuer.issue(subject=row.client_id, role=row.role, ttl=self._ttl,
                                           client_id=row.client_id, scopes=requested)
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer",
                                "expires_in": self._ttl}
        if claims["scope"]:
            body["scope"] = claims["scope"]
        return body
