"""The consent ledger: ``membervault consent rebuild``."""

from __future__ import annotations

import typer

from consent.service import rebuild_consents
from membervault.cli.context import console, open_services

consent_app = typer.Typer(help="The consent ledger.", no_args_is_help=True)


@consent_app.command("rebuild")
def consent_rebuild() -> None:
    """Recompute the current consent state from the append-only records."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        count = rebuild_consents(uow)
    console.print(f"consent state rebuilt: {count} member-purpose states")

