"""Progress of long work (membervault/cli/progress.py): a bar on a terminal; on a pipe
nothing but the command's one summary line."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from membervault.cli.progress import progress_bar
from tests.membervault.cli.support import fresh_services, ok, register_members


def test_a_terminal_sees_the_bar() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80)
    with progress_bar("re-wrapping keys", console=terminal) as advance:
        advance(3, 7)
    assert "re-wrapping keys" in screen.getvalue()


def test_a_pipe_and_json_see_nothing() -> None:
    for console, quiet in ((Console(file=io.StringIO(), force_terminal=False), False),
                           (Console(file=io.StringIO(), force_terminal=True), True)):
        with progress_bar("re-wrapping keys", console=console, quiet=quiet) as advance:
            advance(3, 7)
        assert console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_keys_rotate_on_a_pipe_prints_one_summary_line(migrated: Path) -> None:
    register_members(3)
    fresh_services().close()
    result = ok("keys", "rotate")
    assert result.stdout == ""
    [summary] = result.stderr.strip().splitlines()
    assert "KEK version 2 active; 3 keys re-wrapped" in summary


def test_demo_on_a_pipe_prints_no_progress(migrated: Path) -> None:
    result = ok("demo", "--members", "3")
    assert result.stdout == ""
    assert result.stderr.startswith("demo ready: ")
    assert "enrolling" not in result.stderr
