"""The fenced code blocks of docs/*.md and the rule every one of them follows.

A block's info string is ``<kind>`` or ``<kind> not-run: <reason>``; the kind says what
the tests do with it (docs/contributing.md has the table):

- run: ``sh`` (each command, in order, one session per document: tests/docs/shell.py);
- checked: ``graphql`` (parsed and validated against the schema; ``graphql sdl`` is an
  excerpt of schema/schema.graphql, every line of it found there), ``json`` (parses; a
  GraphQL answer right after an ``sh`` block is compared with the real answer),
  ``ndjson`` (every line parses; right after an ``sh`` block compared with its output),
  ``toml``, ``python`` (compile);
- shown, never run: ``text`` (output or a message as printed), ``http`` (a message on the
  wire).

``not-run: <reason>`` keeps a block of a runnable kind from running (it needs Docker, a
production path, a running server): the reason is required. A block without a kind, or of
a kind not listed, fails the tests, so a new document's examples are either run or say why
not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUN = ("sh",)
CHECKED = ("graphql", "json", "ndjson", "toml", "python")
SHOWN = ("text", "http")
VARIANTS = {"graphql": ("sdl",)}
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>.*)$")
_INFO = re.compile(r"^(?P<kind>[\w-]*)(?:\s+(?P<variant>[\w-]+))??"
                   r"(?:\s+not-run:\s*(?P<reason>.*))?\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence
    info: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def kind(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def variant(self) -> str | None:
        match = _INFO.match(self.info)
        return match["variant"] if match else None

    @property
    def not_run(self) -> str | None:
        """The stated reason this block is not run, if it says one."""
        match = _INFO.match(self.info)
        reason = match["reason"] if match else None
        return reason.strip() or None if reason is not None else None

    def problem(self) -> str | None:
        """Why this block breaks the rule (None: it follows it)."""
        match = _INFO.match(self.info)
        if not self.kind:
            return "has no kind: say which (``sh``, ``json``, ``text``, ...), see docs/contributing.md"
        if match is None or self.kind not in RUN + CHECKED + SHOWN:
            return f"unknown kind {self.info!r}: use one in docs/contributing.md"
        if match["variant"] and match["variant"] not in VARIANTS.get(self.kind, ()):
            return f"unknown variant {match['variant']!r} of {self.kind}"
        if match["reason"] is not None and not match["reason"].strip():
            return "not-run needs a reason"
        if match["reason"] is not None and self.kind in SHOWN:
            return f"a {self.kind} block is never run: drop not-run"
        return None


def documents() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        indent, start, body = len(fence["indent"]), i, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        found.append(Block(path, start + 1, fence["info"].strip(), "\n".join(body) + "\n"))
        i += 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in blocks(path)]
