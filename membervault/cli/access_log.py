"""The access log: ``membervault audit verify``."""

from __future__ import annotations

import typer

from audit.access_log import verify
from membervault.cli.context import console, open_services

audit_app = typer.Typer(help="The access log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the access log's hash chain; exit 1 and name the first broken link if any."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        result = verify(uow.session)
    if result.ok:
        console.print(f"access log intact: {result.checked} entries verified")
        return
    console.print(f"[red]access log broken[/red] at sequence {result.first_broken_sequence}: "
                  f"{result.problem} ({result.checked} entries verified before it)")
    raise typer.Exit(1)

