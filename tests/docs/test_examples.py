"""Every example in docs/*.md is run or checked (tests/docs/blocks.py has the rule,
docs/contributing.md the table): the ``sh`` walk-throughs against the app in process with real
tokens and the command line through CliRunner, one session per document (a migrated
database with the demo loaded, as ``make run`` leaves it); GraphQL operations validated
against the schema; JSON, NDJSON, TOML and Python parsed; the answers a doc shows compared
with the real ones."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from graphql import GraphQLError, build_schema, parse, validate
from graphql.language import OperationDefinitionNode
from starlette.testclient import TestClient

from membervault.app import create_app
from schema.schema import SDL_PATH
from tests.docs.blocks import RUN, Block, all_blocks, blocks, documents
from tests.docs.shell import BASE, ExampleFailed, Shell, compare, first_document
from tests.membervault.cli.support import ok, run
from vaultkernel.settings import Settings, load_settings

BLOCKS = all_blocks()
SDL = SDL_PATH.read_text()
SCHEMA = build_schema(SDL)


def _id(block: Block) -> str:
    return block.where


@pytest.mark.parametrize("block", BLOCKS, ids=_id)
def test_every_block_says_what_it_is(block: Block) -> None:
    assert block.problem() is None, f"{block.where}: {block.problem()}"


def elided(text: str) -> str:
    """JSON with ``...`` where a doc leaves items or keys out, as JSON."""
    return re.sub(r",\s*\.\.\.(?=\s*[\]}])|(?<=[\[{])\s*\.\.\.\s*,?", "", text)


def json_values(text: str) -> list[Any]:
    """The JSON values of a block (a token's header and claims are two)."""
    decoder, values, rest = json.JSONDecoder(), [], elided(text).strip()
    while rest:
        value, end = decoder.raw_decode(rest)
        values.append(value)
        rest = rest[end:].strip()
    return values


def check(block: Block) -> None:
    kind, text = block.kind, block.text
    if kind == "json":
        assert json_values(text)
    elif kind == "ndjson":
        for line in text.splitlines():
            json.loads(line)
    elif kind == "toml":
        tomllib.loads(text)
    elif kind == "python":
        try:
            compile(text, block.where, "exec")
        except SyntaxError:  # a handler's body, shown without its def
            compile("def handler():\n" + "".join(f"    {line}\n" for line in text.splitlines()),
                    block.where, "exec")
    elif kind == "graphql" and block.variant == "sdl":
        missing = [line.strip() for line in text.splitlines()
                   if line.strip() and line.strip() not in SDL]
        assert not missing, f"not in schema/schema.graphql: {missing}"
    elif kind == "graphql":
        document = parse(text)
        errors: list[GraphQLError] = validate(SCHEMA, document)
        assert not errors, [e.message for e in errors]
        assert all(isinstance(d, OperationDefinitionNode) for d in document.definitions)


CHECKED = [b for b in BLOCKS if b.kind not in RUN + ("text", "http") and b.not_run is None]


@pytest.mark.parametrize("block", CHECKED, ids=_id)
def test_every_checked_block_is_valid(block: Block) -> None:
    check(block)


WALKS = [path for path in documents()
         if any(b.kind == "sh" and b.not_run is None for b in blocks(path))]


@pytest.fixture
def shell(settings: Settings, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[Shell]:
    """``make run``'s state: a migrated database, the demo loaded, the app at BASE."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MEMBERVAULT_KEK_FILE", settings.kek_file)
    monkeypatch.delenv("MEMBERVAULT_MAILBOX_FILE", raising=False)
    ok("demo", "--members", "3")
    with TestClient(create_app(load_settings()), base_url=BASE) as http:
        yield Shell(http, membervault, tmp_path)


def membervault(args: list[str]) -> Result:
    """The command line in process; ``worker`` points the root logger at the runner's
    (then closed) stderr, so the logging set-up is put back after each command."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return run(*args)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def answers(shown: Any, output: str) -> bool:
    """Whether a JSON block is the GraphQL answer of the command before it (it names one
    of the root fields that command asked for)."""
    if not (isinstance(shown, dict) and isinstance(shown.get("data"), dict)):
        return False
    try:
        actual = first_document(output)
    except ValueError:
        return False
    return isinstance(actual, dict) and bool(set(shown["data"]) & set(actual.get("data") or {}))


@pytest.mark.parametrize("path", WALKS, ids=lambda p: p.name)
def test_the_walk_through_runs(path: Path, shell: Shell) -> None:
    """Every ``sh`` block of the document, in order, in one session; a JSON or NDJSON
    block right after one is the answer the doc shows for its last command."""
    after_run = False
    for block in blocks(path):
        if block.kind == "sh" and block.not_run is None:
            try:
                shell.run_block(block.text, block.line, block.where)
            except ExampleFailed as failure:
                pytest.fail(str(failure))
            after_run = True
            continue
        if after_run and block.kind in ("json", "ndjson") and shell.last_output.strip():
            shown = json_values(block.text)[0] if block.kind == "json" else \
                json.loads(block.text.splitlines()[0])
            if block.kind == "json" and not answers(shown, shell.last_output):
                after_run = False
                continue  # a document the text describes, not the command's answer
            problems = compare(shown, first_document(shell.last_output), "", shell.learned)
            assert not problems, f"{block.where}: the answer shown differs: {problems}"
        after_run = False
