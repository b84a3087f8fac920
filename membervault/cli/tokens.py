"""Development tokens: ``membervault token``."""

from __future__ import annotations

from typing import Annotated

import typer

from identity import members
from identity.errors import IdentityError
from identity.models import Client
from identity.principal import purpose_scope
from membervault.cli.context import fail, open_services
from membervault.services import ensure_signing_key


def token(client: Annotated[str | None, typer.Option(help="a client, officer or admin id")] = None,
          member: Annotated[str | None, typer.Option(help="a member number")] = None) -> None:
    """Development only: mint an access token for a demo principal."""
    services = open_services()
    settings = services.settings
    if settings.production:
        raise fail("'token' is for development mode only")
    if (client is None) == (member is None):
        raise fail("give exactly one of --client or --member")
    ensure_signing_key(services)
    with services.db.unit_of_work() as uow:
        if client is not None:
            row = uow.session.get(Client, client)
            if row is None:
                raise fail("no such client")
            value, _ = services.issuer.issue(
                subject=row.client_id, role=row.role, ttl=settings.client_token_ttl,
                client_id=row.client_id,
                scopes=[purpose_scope(p) for p in row.allowed_purposes])
        else:
            try:
                member_id = members.find_member_id(uow, services.crypto, number=member,
                                                   default_region=settings.default_region)
            except IdentityError as exc:
                raise fail(exc.message) from None
            if member_id is None:
                raise fail("no member with this number")
            value, _ = services.issuer.issue(subject=str(member_id), role="member",
                                             ttl=settings.member_token_ttl,
                                             client_id="membervault-cli")
    print(value)

