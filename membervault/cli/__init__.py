"""The ``membervault`` command line: one module per command group, assembled here."""

from __future__ import annotations

import logging
import os
import sys
from importlib import metadata
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from identity.errors import KeyringError
from membervault.cli import (
    access_log,
    consent_ledger,
    database,
    keys,
    principals,
    retention,
    run,
    sdl,
    tokens,
)
from membervault.cli.context import close_services, console
from membervault.readiness import first_line

app = typer.Typer(help="membervault: member data, consent and retention.", no_args_is_help=True)
for group, name in ((database.db_app, "db"), (principals.client_app, "client"),
                    (principals.officer_app, "officer"), (principals.admin_app, "admin"),
                    (keys.keys_app, "keys"), (sdl.schema_app, "schema"),
                    (access_log.audit_app, "audit"), (consent_ledger.consent_app, "consent"),
                    (retention.retention_app, "retention")):
    app.add_typer(group, name=name)
for command in (run.serve, run.worker, run.demo, tokens.token, retention.ropa):
    app.command()(command)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"membervault {metadata.version('membervault')}")
        raise typer.Exit()


@app.callback()
def _root(ctx: typer.Context, version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="print the installed version and exit")] = False) -> None:
    """membervault: member data, consent and retention."""
    ctx.call_on_close(close_services)


def main() -> None:
    """Every failure ends in one line and an exit code (2: cannot start or bad
    configuration; 1: the command failed); ``MEMBERVAULT_DEBUG=1`` shows the traceback."""
    logging.basicConfig(level=logging.WARNING)
    try:
        app(standalone_mode=True)
    except KeyringError as exc:
        console.print(f"[red]key error:[/red] {exc}")
        sys.exit(2)
    except SQLAlchemyError as exc:
        if os.environ.get("MEMBERVAULT_DEBUG") == "1":
            raise
        console.print(f"[red]database error:[/red] {first_line(exc)}")
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001  (one line for the operator, not a traceback)
        if os.environ.get("MEMBERVAULT_DEBUG") == "1":
            raise
        console.print(f"[red]unexpected error:[/red] {type(exc).__name__} "
                      "(MEMBERVAULT_DEBUG=1 shows the traceback)")
        sys.exit(1)
