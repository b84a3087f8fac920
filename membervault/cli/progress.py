"""Progress of long work (a key rotation, the demo, a sweep): a rich progress bar on
standard error when it is a terminal; nothing otherwise (on a pipe, in a log, under
``--json``), where the command prints one summary line when it is done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress

from membervault.cli import context

Advance = Callable[[int, int], None]  # (done so far, total)


@contextmanager
def progress_bar(label: str, *, quiet: bool = False,
                 console: Console | None = None) -> Iterator[Advance]:
    """Yields the function to tell how far the work is; the bar goes when the work ends."""
    console = console or context.console
    if quiet or not console.is_terminal:
        yield _ignore
        return
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _ignore(done: int, total: int) -> None:
    return None
