"""Running the docs' ``sh`` blocks: a small interpreter for the shell the docs write, with
the app in process (``curl`` and the docs' ``gql`` helper become requests to it, with real
tokens) and the command line through typer's CliRunner.

What it understands, and nothing more (anything else fails the test, so a doc cannot use
a command no test runs): ``NAME=value`` and ``export NAME=value``; ``$NAME``, ``${NAME}``
and ``$(command)`` outside single quotes; single and double quotes; backslash line
continuations; ``#`` comments; ``|`` pipes; the helpers ``token <client>`` and
``gql <token> '<json body>' [-H 'header: value']`` that docs/api.md defines;
``membervault`` (or ``.venv/bin/membervault``); ``curl`` with ``-s``, ``-H``, ``-u``,
``-d``, ``-o``, ``-w``; ``echo``; ``python3 -c``, ``jq``, ``grep``, ``head``, ``tail``,
``cut`` (real processes, reading the previous command's output). An undefined variable is an error, as under ``set -u``.

A comment line holding JSON right after a command (``# {"data": ...}``) is that command's
answer as the doc shows it, and is compared with the real one (see :func:`compare`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import Result
from starlette.testclient import TestClient

BASE = "http://127.0.0.1:8000"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_FUNCTION = re.compile(r"^([a-z_]+)\(\)\s*\{")
# Values a doc can only show as an example: ids, member numbers, key ids, placeholders,
# download links. A real answer's value at the same place replaces them in later commands.
LEARNABLE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                       r"|\d{12}|[0-9a-f]{16}|<[^<>]+>|https?://\S+/exports/\S+")
# What a doc's answer must show exactly: codes and states (``IN_PROGRESS``,
# ``CONSENT_REQUIRED``) and booleans. Other values (names, times, counts) are the demo's.
CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{2,}")
HELPERS = ("token", "gql")
# Run as real processes in the session's directory, reading the previous command's output.
PROCESSES = ("python3", "jq", "grep", "head", "tail", "cut")


class ExampleFailed(AssertionError):
    pass


@dataclass
class Command:
    text: str
    line: int
    shown: list[str] = field(default_factory=list)  # the doc's answer, from # comments


@dataclass
class Shell:
    http: TestClient
    cli: Callable[[list[str]], Result]
    workdir: Path
    # docs/api.md defines B, token and gql once; every other document uses them too.
    variables: dict[str, str] = field(default_factory=lambda: {"B": BASE})
    learned: dict[str, str] = field(default_factory=dict)
    helpers: set[str] = field(default_factory=lambda: set(HELPERS))
    last_output: str = ""

    # --- blocks and commands -------------------------------------------------------

    def run_block(self, text: str, first_line: int, where: str) -> str:
        """Run every command of a block; returns the last command's output."""
        for command in commands(text, first_line):
            try:
                self.last_output = self.run(command.text)
            except ExampleFailed as failure:
                raise ExampleFailed(f"{where}, line {command.line}: {failure}") from None
            for shown in command.shown:
                self.compare_shown(shown, self.last_output, f"{where}, line {command.line}")
        return self.last_output

    def compare_shown(self, shown: str, output: str, where: str) -> None:
        expected = json.loads(shown)
        actual = first_document(output)
        problems = compare(expected, actual, "", self.learned)
        if problems:
            raise ExampleFailed(f"{where}: the answer shown differs: {'; '.join(problems)}")

    def run(self, text: str) -> str:
        function = _FUNCTION.match(text)
        if function:
            if function[1] not in HELPERS:
                raise ExampleFailed(f"unknown helper {function[1]}()")
            self.helpers.add(function[1])
            return ""
        for example, real in self.learned.items():
            text = text.replace(example, real)
        assignment = _ASSIGNMENT.match(text)
        if assignment:
            [[value]] = self.words(text[assignment.end():]) or [[""]]
            self.variables[assignment[1]] = value
            return ""
        output = ""
        for stage in self.words(text):
            output = self.execute(stage, output)
        return output

    def execute(self, argv: list[str], stdin: str) -> str:
        name, args = argv[0], argv[1:]
        if name in ("membervault", ".venv/bin/membervault"):
            return self.membervault(args)
        if name in self.helpers and name == "token":
            return self.membervault(["token", "--client", *args]).strip()
        if name in self.helpers and name == "gql":
            return self.gql(args)
        if name == "curl":
            return self.curl(args)
        if name == "echo":
            return " ".join(args) + "\n"
        if name in PROCESSES:
            program = [sys.executable, *args] if name == "python3" else [name, *args]
            done = subprocess.run(program, input=stdin, capture_output=True, text=True,  # noqa: S603
                                  cwd=self.workdir, timeout=60, check=False)
            if done.returncode != 0:
                raise ExampleFailed(f"{name} failed: {done.stderr.strip()[-300:]}")
            return done.stdout
        raise ExampleFailed(f"no test runs {name!r}: mark the block not-run with a reason")

    # --- what the commands do ------------------------------------------------------

    def membervault(self, args: list[str]) -> str:
        outside = [a for a in args if a.startswith("/") and not a.startswith(str(self.workdir))]
        if outside:
            raise ExampleFailed(f"would write outside the session's directory: {outside}")
        result = self.cli(args)
        if result.exit_code != 0:
            raise ExampleFailed(f"membervault {' '.join(args)} ended with {result.exit_code}: "
                                f"{result.stderr.strip() or result.exception!r}")
        return result.stdout

    def gql(self, args: list[str]) -> str:
        token, body, *options = args
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        headers.update(_headers(options))
        try:
            json.loads(body)
        except ValueError as exc:
            raise ExampleFailed(f"the gql body is not JSON ({exc}): {body[:200]}") from None
        response = self.http.post("/graphql", content=body, headers=headers)
        if response.status_code != 200:
            raise ExampleFailed(f"graphql answered {response.status_code}: {response.text[:300]}")
        answer = response.json()
        if answer.get("errors"):
            raise ExampleFailed(f"graphql errors: {answer['errors']}")
        return response.text + "\n"

    def curl(self, args: list[str]) -> str:
        headers: dict[str, str] = {}
        data: list[str] = []
        auth: tuple[str, str] | None = None
        out: str | None = None
        url = None
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "-s":
                i += 1
                continue
            if arg in ("-H", "-d", "-u", "-o", "-w"):
                value = args[i + 1]
                if arg == "-H":
                    headers.update(_headers(["-H", value]))
                elif arg == "-d":
                    data.append(value)
                elif arg == "-u":
                    user, _, password = value.partition(":")
                    auth = (user, password)
                elif arg == "-o":
                    out = value
                i += 2
                continue
            if arg.startswith("-"):
                raise ExampleFailed(f"curl option {arg} is not understood by the docs' tests")
            url = arg
            i += 1
        if url is None or not url.startswith(BASE):
            raise ExampleFailed(f"curl to {url!r}: only the app at {BASE} can be reached")
        path = url[len(BASE):]
        extra: dict[str, Any] = {"auth": auth} if auth else {}
        if data:
            json_body = headers.get("content-type", "").startswith("application/json")
            body = data[0] if json_body else "&".join(data)
            if not json_body:
                headers.setdefault("content-type", "application/x-www-form-urlencoded")
            response = self.http.post(path, content=body, headers=headers, **extra)
        else:
            response = self.http.get(path, headers=headers, **extra)
        if response.status_code >= 400:
            raise ExampleFailed(f"{path} answered {response.status_code}: {response.text[:300]}")
        if out is not None:
            if out.startswith("/") and out != "/dev/null":
                raise ExampleFailed(f"curl -o {out}: outside the session's directory")
            if out != "/dev/null":
                (self.workdir / out).write_bytes(response.content)
            return ""
        return response.text

    # --- words ---------------------------------------------------------------------

    def words(self, text: str) -> list[list[str]]:
        """The command's pipeline: the words of each stage, quotes removed, variables and
        command substitutions expanded."""
        stages: list[list[str]] = [[]]
        word: list[str] | None = None
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                if text[i + 1] != "\n":
                    word = (word or []) + [text[i + 1]]
                i += 2
            elif c == "'":
                end = text.index("'", i + 1)
                word = (word or []) + [text[i + 1:end]]
                i = end + 1
            elif c == '"':
                i, expanded = self._double_quoted(text, i + 1)
                word = (word or []) + [expanded]
            elif c == "$":
                i, expanded = self._expand(text, i)
                word = (word or []) + [expanded]
            elif c in " \t\n":
                if word is not None:
                    stages[-1].append("".join(word))
                    word = None
                i += 1
            elif c == "|":
                if word is not None:
                    stages[-1].append("".join(word))
                    word = None
                stages.append([])
                i += 1
            elif c == "#" and word is None:
                i = text.find("\n", i) if "\n" in text[i:] else len(text)
            else:
                word = (word or []) + [c]
                i += 1
        if word is not None:
            stages[-1].append("".join(word))
        return [stage for stage in stages if stage]

    def _double_quoted(self, text: str, i: int) -> tuple[int, str]:
        parts: list[str] = []
        while text[i] != '"':
            if text[i] == "\\" and text[i + 1] in '"\\$':
                parts.append(text[i + 1])
                i += 2
            elif text[i] == "$":
                i, expanded = self._expand(text, i)
                parts.append(expanded)
            else:
                parts.append(text[i])
                i += 1
        return i + 1, "".join(parts)

    def _expand(self, text: str, i: int) -> tuple[int, str]:
        if text.startswith("$(", i):
            depth, j = 1, i + 2
            while depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            return j, self.run(text[i + 2:j - 1]).rstrip("\n")
        braced = text.startswith("${", i)
        match = _NAME.match(text, i + (2 if braced else 1))
        if match is None:
            return i + 1, "$"
        end = match.end() + (1 if braced else 0)
        if match[0] not in self.variables:
            raise ExampleFailed(f"${match[0]} is not defined by an earlier example")
        return end, self.variables[match[0]]


def commands(text: str, first_line: int) -> list[Command]:
    """Split a block into commands: a command runs on while a quote or a function body is
    open or a line ends with a backslash; a comment line of JSON after a command is the
    answer the doc shows for it."""
    found: list[Command] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line, number = lines[i], first_line + 1 + i
        stripped = line.strip()
        i += 1
        if not stripped:
            continue
        if stripped.startswith("#"):
            comment = stripped.lstrip("#").strip()
            if found and comment.startswith("{"):
                found[-1].shown.append(comment)
            continue
        chunk = [line]
        while i < len(lines) and (_open(chunk) or chunk[-1].rstrip().endswith("\\")):
            chunk.append(lines[i])
            i += 1
        found.append(Command("\n".join(chunk), number))
    return found


def _open(chunk: list[str]) -> bool:
    """A quote or a function body still open at the end of these lines."""
    text = "\n".join(chunk)
    if _FUNCTION.match(text.strip()):
        return not any(line.split(" #")[0].rstrip().endswith("}") for line in chunk)
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote is None and c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            if end < 0:
                break
            i = end
        elif c == "\\" and quote != "'":
            i += 1
        elif quote is None and c in "'\"":
            quote = c
        elif c == quote:
            quote = None
        i += 1
    return quote is not None


def _headers(options: list[str]) -> dict[str, str]:
    headers = {}
    for flag, value in zip(options[::2], options[1::2], strict=True):
        if flag != "-H":
            raise ExampleFailed(f"option {flag} is not understood by the docs' tests")
        name, _, content = value.partition(":")
        headers[name.strip().lower()] = content.strip()
    return headers


def first_document(output: str) -> Any:
    """The JSON a command printed (an NDJSON stream: its first line)."""
    output = output.strip()
    try:
        return json.loads(output)
    except ValueError:
        first = output.splitlines()[0] if output else "null"
        return json.loads(first)


def compare(shown: Any, actual: Any, path: str, learned: dict[str, str]) -> list[str]:
    """Where the doc's answer names a key the real one lacks (or has another shape); example
    ids in the doc are learned as the real ones at the same place."""
    if isinstance(shown, dict):
        if actual is None:
            return [f"{path or 'the answer'} is null"]
        if not isinstance(actual, dict):
            return [f"{path or 'the answer'} is not an object"]
        problems = []
        for key, value in shown.items():
            if key not in actual:
                problems.append(f"{path}.{key} is not in the answer ({sorted(actual)})")
            else:
                problems += compare(value, actual[key], f"{path}.{key}", learned)
        return problems
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return [] if actual is None else [f"{path} is not a list"]
        return [p for i, (s, a) in enumerate(zip(shown, actual, strict=False))
                for p in compare(s, a, f"{path}[{i}]", learned)]
    if (isinstance(shown, str) and isinstance(actual, str) and shown != actual
            and LEARNABLE.fullmatch(shown) and shown not in learned):
        learned[shown] = actual
    if (isinstance(shown, bool) or (isinstance(shown, str) and CODE.fullmatch(shown))) \
            and shown != actual:
        return [f"{path} is {actual!r}, not {shown!r}"]
    return []
