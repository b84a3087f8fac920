"""Clients, officers and administrators: ``membervault client|officer|admin ...``."""

from __future__ import annotations

from typing import Annotated

import typer

from identity.errors import IdentityError
from identity.listings import PrincipalEntry
from identity.service import (
    create_principal,
    list_principals,
    reset_principal_secret,
    set_principal_active,
)
from membervault.cli.context import console, fail, open_services
from membervault.cli.output import JsonOption, emit_json, line, timestamp
from outbox.errors import OutboxError
from outbox.service import register_webhook, remove_webhook

client_app = typer.Typer(help="Downstream service clients.", no_args_is_help=True)
officer_app = typer.Typer(help="Compliance officers.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrators.", no_args_is_help=True)


@client_app.command("create")
def client_create(client_id: str, name: Annotated[str, typer.Option()],
                  kind: Annotated[str, typer.Option()],
                  purpose: Annotated[list[str], typer.Option(help="repeatable")],
                  collects_consent: Annotated[bool, typer.Option(
                      help="may record consent on members' behalf")] = False) -> None:
    """Register a client service with the purposes it may declare; prints its secret once."""
    _create_principal(client_id, name, kind, "client", purpose, collects_consent)


@client_app.command("list")
def client_list(as_json: JsonOption = False) -> None:
    """Every registered principal with its role, purposes and state."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        entries = list_principals(uow)
    if as_json:
        emit_json({"principals": [_principal_document(entry) for entry in entries]})
        return
    for entry in entries:
        state = "active" if entry.active else "disabled"
        extra = " collects-consent" if entry.collects_consent else ""
        line(f"{entry.client_id} {entry.role} {state}{extra} "
             f"purposes={','.join(entry.purposes) or '-'}")


def _principal_document(entry: PrincipalEntry) -> dict[str, object]:
    return {"clientId": entry.client_id, "name": entry.name, "kind": entry.kind,
            "role": entry.role, "active": entry.active,
            "collectsConsent": entry.collects_consent, "purposes": list(entry.purposes),
            "hasWebhook": entry.has_webhook, "createdAt": timestamp(entry.created_at)}


@client_app.command("disable")
def client_disable(client_id: str) -> None:
    """Stop a principal from obtaining tokens and acting (its live tokens stop working too)."""
    _set_client_active(client_id, False)


@client_app.command("enable")
def client_enable(client_id: str) -> None:
    """Let a disabled principal obtain tokens again."""
    _set_client_active(client_id, True)


def _set_client_active(client_id: str, active: bool) -> None:
    services = open_services()
    with services.db.unit_of_work() as uow:
        try:
            set_principal_active(uow, client_id, active, actor="cli")
        except IdentityError as exc:
            raise fail(exc.message) from None
    console.print(f"{client_id} {'enabled' if active else 'disabled'}")


@client_app.command("reset-secret")
def client_reset_secret(client_id: str) -> None:
    """Issue a new secret for a principal (the old one stops working); printed once."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        try:
            secret = reset_principal_secret(uow, services.hasher, client_id, actor="cli")
        except IdentityError as exc:
            raise fail(exc.message) from None
    console.print(f"new secret for {client_id} (shown once):")
    print(secret)


@client_app.command("webhook")
def client_webhook(client_id: str,
                   url: Annotated[str | None, typer.Option(
                       help="where events are POSTed (https:// in production)")] = None,
                   remove: Annotated[bool, typer.Option(
                       "--remove", help="stop delivering events to this client")] = False) -> None:
    """Register a client's webhook and print its signing secret once (whsec_...), or remove it.
    Registering again moves the webhook and replaces the secret."""
    if (url is None) == (not remove):
        raise fail("give exactly one of --url or --remove")
    services = open_services()
    with services.db.unit_of_work() as uow:
        try:
            if remove:
                had = remove_webhook(uow, client_id, actor="cli")
            else:
                secret = register_webhook(uow, services.keyring, client_id, str(url),
                                          production=services.settings.production, actor="cli",
                                          addresses=services.courier.addresses)
        except OutboxError as exc:
            raise fail(f"{exc.code}: {exc.message}") from None
    if remove:
        console.print(f"webhook of {client_id} removed" if had else
                      f"{client_id} had no webhook")
        return
    console.print(f"webhook of {client_id} set. Its signing secret (shown once):")
    print(secret)


@officer_app.command("create")
def officer_create(client_id: str, name: Annotated[str, typer.Option()]) -> None:
    """Create a compliance officer; prints the secret once."""
    _create_principal(client_id, name, "officer", "officer", [])


@admin_app.command("create")
def admin_create(client_id: str, name: Annotated[str, typer.Option()]) -> None:
    """Create an administrator; prints the secret once."""
    _create_principal(client_id, name, "admin", "admin", [])


def _create_principal(client_id: str, name: str, kind: str, role: str,
                      purposes: list[str], collects_consent: bool = False) -> None:
    services = open_services()
    with services.db.unit_of_work() as uow:
        try:
            secret = create_principal(
                uow, services.hasher, client_id=client_id, name=name, kind=kind,
                role=role, purposes=purposes, known_purposes=services.policy.purposes,
                actor="cli", collects_consent=collects_consent)
        except IdentityError as exc:
            raise fail(exc.message) from None
    console.print(f"{role} {client_id} created. Its secret (shown once):")
    print(secret)

