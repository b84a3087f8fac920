"""Development tokens: an access token for a registered principal or a member, minted
without their credentials, for trying the API (``membervault token``). Refused in
production, where a token is only ever obtained at the token endpoint or by sign-in."""

from __future__ import annotations

from identity import members, signing_keys
from identity.encryption import MemberCrypto
from identity.errors import IdentityError
from identity.keyring import KeyEncryptionKeys
from identity.models import Client
from identity.principal import purpose_scope
from identity.tokens import TokenIssuer
from vaultkernel.database import UnitOfWork
from vaultkernel.settings import Settings

ISSUED_TO_MEMBERS_AS = "membervault-cli"  # the token's client_id


def _ready_to_sign(uow: UnitOfWork, keks: KeyEncryptionKeys, settings: Settings) -> None:
    """Refused in production (before anything is written); else a signing key is made
    when there is none yet (a database just migrated)."""
    if settings.production:
        raise IdentityError("development tokens are for development mode only",
                            code="FORBIDDEN")
    signing_keys.ensure_active_key(uow.session, keks)
    uow.commit()


def client_token(uow: UnitOfWork, issuer: TokenIssuer, keks: KeyEncryptionKeys,
                 settings: Settings, client_id: str) -> str:
    """A token for a client, officer or admin, with every purpose its registration
    allows."""
    _ready_to_sign(uow, keks, settings)
    client = uow.session.get(Client, client_id)
    if client is None:
        raise IdentityError("no such client", field="client", code="NOT_FOUND")
    value, _ = issuer.issue(subject=client.client_id, role=client.role,
                            ttl=settings.client_token_ttl, client_id=client.client_id,
                            scopes=[purpose_scope(p) for p in client.allowed_purposes])
    return value


def member_token(uow: UnitOfWork, issuer: TokenIssuer, keks: KeyEncryptionKeys,
                 crypto: MemberCrypto, settings: Settings, member_number: str) -> str:
    """A token for the member with this member number (found by its blind index)."""
    _ready_to_sign(uow, keks, settings)
    member_id = members.find_member_id(uow, crypto, number=member_number,
                                       default_region=settings.default_region)
    if member_id is None:
        raise IdentityError("no member with this number", field="member",
                            code="MEMBER_NOT_FOUND")
    value, _ = issuer.issue(subject=str(member_id), role="member",
                            ttl=settings.member_token_ttl, client_id=ISSUED_TO_MEMBERS_AS)
    return value
