"""What every command shares: the console, settings, services and one-line failures
(printed as they are: a message naming ``[policy]`` is text, not console markup)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from identity.errors import KeyringError
from membervault import readiness
from membervault.services import Services, build_services
from vaultkernel.policy import PolicyError
from vaultkernel.settings import Settings, SettingsError, load_settings

console = Console(stderr=True, soft_wrap=True)
_open: list[Services] = []


def read_settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def open_services() -> Services:
    """The services for one command, checked ready (the database answers and is migrated,
    the keyring opens its keys); their connections close when the command ends."""
    settings = read_settings()
    try:
        services = build_services(settings)
    except (KeyringError, PolicyError) as exc:
        console.print(f"[red]cannot start:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    _open.append(services)
    try:
        readiness.check(services)
    except readiness.NotReady as exc:
        console.print(f"[red]cannot start:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    return services


def close_services() -> None:
    while _open:
        _open.pop().close()


def fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)
