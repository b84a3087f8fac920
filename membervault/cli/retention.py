"""Retention: ``membervault retention sweep`` and ``membervault ropa``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from membervault.cli.context import console, fail, open_services
from membervault.cli.output import JsonOption, emit_json, out, timestamp
from retention import service
from retention.ropa import as_markdown
from retention.sweeper import SweepIncomplete, SweepReport, sweep
from vaultkernel.clock import utcnow

retention_app = typer.Typer(help="Retention rules and the sweeper.", no_args_is_help=True)


@retention_app.command("sweep")
def retention_sweep(dry_run: Annotated[bool, typer.Option(help="report, change nothing")] = False,
                    rule: Annotated[str | None, typer.Option(help="only this rule")] = None,
                    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
                    as_json: JsonOption = False) -> None:
    """Apply every retention rule (or one) in bounded batches; prints a summary per rule."""
    services = open_services()
    if rule is not None and rule not in services.policy.retention:
        raise fail(f"no retention rule named {rule} "
                    f"(known: {', '.join(services.policy.retention)})")
    quiet = as_json or not console.is_terminal
    with Progress(console=console, transient=True, disable=quiet) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        try:
            report = sweep(services.db, services.sweep_kit, now=utcnow(), dry_run=dry_run,
                           rule=rule, batch_size=batch_size, progress=progress)
            failed: list[str] = []
        except SweepIncomplete as incomplete:
            report, failed = incomplete.report, incomplete.failed
    if as_json:
        emit_json(_sweep_document(report, failed))
    else:
        out.print(_sweep_table(report))
    if failed:
        raise fail(f"rules failed (see the log; the next sweep resumes them): "
                    f"{', '.join(failed)}")


def _sweep_table(report: SweepReport) -> Table:
    dry_run = report.dry_run
    table = Table(title="retention sweep" + (" (dry run: nothing changed)" if dry_run else ""))
    for column in ("rule", "action", "would affect" if dry_run else "affected", "held, skipped"):
        table.add_column(column)
    for outcome in report.outcomes:
        table.add_row(outcome.rule, outcome.action, str(outcome.affected),
                      str(outcome.skipped_held))
    return table


def _sweep_document(report: SweepReport, failed: list[str]) -> dict[str, object]:
    return {"dryRun": report.dry_run, "at": timestamp(report.at),
            "rules": [{"rule": o.rule, "action": o.action, "affected": o.affected,
                       "skippedHeld": o.skipped_held} for o in report.outcomes],
            "failedRules": failed}


def ropa(out: Annotated[Path, typer.Option(help="directory for ropa.json and ropa.md")] = Path(".")
         ) -> None:
    """Write the record of processing activities (GDPR Art. 30) from the policy file and
    the registered clients."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        record = service.record_of_processing(uow, services.policy)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ropa.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "ropa.md").write_text(as_markdown(record))
    console.print(f"wrote {out / 'ropa.json'} and {out / 'ropa.md'}")

