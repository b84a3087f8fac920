"""Where a command's output goes. Standard output carries what the command is for: its
listing or report (as text, or with ``--json`` as one JSON document), a secret shown once,
a token. Standard error carries messages, progress and the one-line errors. See
docs/cli.md for the JSON documents."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.console import Console

JsonOption = Annotated[bool, typer.Option(
    "--json", help="print one JSON document (camelCase keys, see docs/cli.md) instead of text")]

# Standard output, looked up when printing (so a test runner's capture sees it too).
out = Console(soft_wrap=True)


def line(text: str) -> None:
    """One line of a text listing, printed as it is (no markup, no highlighting)."""
    typer.echo(text)


def emit_json(document: Mapping[str, Any]) -> None:
    """The command's one JSON document: an object (so keys can be added later), keys in
    camelCase as in the GraphQL API, times as ISO 8601 with their UTC offset."""
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def timestamp(value: dt.datetime | None) -> str | None:
    """A time as the GraphQL ``DateTime`` scalar writes it."""
    return None if value is None else value.isoformat()


def camel(name: str) -> str:
    """``expired_archives`` -> ``expiredArchives``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
