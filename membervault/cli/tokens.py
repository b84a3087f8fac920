"""Development tokens: ``membervault token``."""

from __future__ import annotations

from typing import Annotated

import typer

from identity import development_tokens
from identity.errors import IdentityError
from membervault.cli.context import fail, open_services


def token(client: Annotated[str | None, typer.Option(help="a client, officer or admin id")] = None,
          member: Annotated[str | None, typer.Option(help="a member number")] = None) -> None:
    """Development only: mint an access token for a demo principal."""
    if (client is None) == (member is None):
        raise fail("give exactly one of --client or --member")
    services = open_services()
    try:
        with services.db.unit_of_work() as uow:
            if client is not None:
                value = development_tokens.client_token(
                    uow, services.issuer, services.keyring, services.settings, client)
            else:
                value = development_tokens.member_token(
                    uow, services.issuer, services.keyring, services.crypto,
                    services.settings, member or "")
    except IdentityError as refused:
        raise fail(refused.message) from None
    print(value)
