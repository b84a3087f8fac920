"""The access log: ``membervault audit verify`` and ``membervault audit index``."""

from __future__ import annotations

import typer

from audit import member_index
from audit.verification import verify
from membervault.cli.context import console, open_services
from membervault.cli.output import JsonOption, emit_json, line

audit_app = typer.Typer(help="The access log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(as_json: JsonOption = False) -> None:
    """Walk the access log's hash chain, check its per-member index and its latest signed
    head; exit 1 and name the first broken link if any."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        result = verify(uow.session, services.notary)
    if as_json:
        emit_json({"intact": result.ok, "entriesVerified": result.checked,
                   "firstBrokenSequence": result.first_broken_sequence,
                   "problem": result.problem})
        if not result.ok:
            raise typer.Exit(1)
        return
    if result.ok:
        line(f"access log intact: {result.checked} entries verified")
        return
    console.print(f"[red]access log broken[/red] at sequence {result.first_broken_sequence}: "
                  f"{result.problem} ({result.checked} entries verified before it)")
    raise typer.Exit(1)



@audit_app.command("index")
def audit_index() -> None:
    """Bring the per-member index up to date now (the worker does this continually)."""
    services = open_services()
    console.print(f"indexed {member_index.catch_up(services.db)} access-log entries")
