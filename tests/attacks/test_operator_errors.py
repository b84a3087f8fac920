"""Issue 11, item 11, replayed as an operator starting the real command beside the running
server: every mistake ends in one line and an exit code, never a traceback, and a
keyring that does not belong to the database stops the start. The commands are started
all at once (each is a process start) and their outcomes checked one by one. In-process,
with the readiness answer: tests/membervault/test_readiness.py."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from identity.keyring import Keyring, save_keyring
from tests.attacks.server import BIN, Server
from tests.conftest import BACKEND, HTTPS_ISSUER, fresh_postgres_database


@dataclass
class Mistake:
    args: tuple[str, ...]
    env: dict[str, str]
    exit_code: int
    says: tuple[str, ...]  # what the one line must contain
    never: tuple[str, ...] = ()  # what it must not
    one_line: bool = True


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keyring_at(path: Path, mode: int = 0o600) -> str:
    keyring = Keyring.generate()
    keyring.generated = False
    save_keyring(keyring, path)
    os.chmod(path, mode)
    return str(path)


def mistakes(server: Server, workdir: Path, blank_url: str) -> dict[str, Mistake]:
    port = closed_port()
    return {
        "port in use": Mistake(("serve", "--port", str(server.port)), {}, 2,
                               (f"cannot listen on 127.0.0.1:{server.port}",)),
        "port out of range": Mistake(("serve", "--port", "99999"), {}, 2, ("65535",),
                                     one_line=False),
        "bad DATABASE_URL": Mistake(("serve",), {
            "MEMBERVAULT_DATABASE_URL": "mysql://u:pw-s3cret@h/db"}, 2,
            ("MEMBERVAULT_DATABASE_URL",), ("pw-s3cret",)),
        "never migrated": Mistake(("serve",), {"MEMBERVAULT_DATABASE_URL": blank_url}, 2,
                                  ("is never migrated", "membervault db upgrade")),
        "unreachable PostgreSQL": Mistake(("serve",), {
            "MEMBERVAULT_DATABASE_URL": f"postgresql://postgres:pw-s3cret@127.0.0.1:{port}/x"},
            2, (f"cannot reach the database (postgresql at 127.0.0.1:{port}/x)",),
            ("pw-s3cret",)),
        "another installation's keyring": Mistake(("serve",), {
            "MEMBERVAULT_KEK_FILE": keyring_at(workdir / "other-keyring.json")}, 2,
            ("cannot start", "keyring does not open this database's keys")),
        "a regenerated development keyring": Mistake(("serve",), {
            "MEMBERVAULT_KEK_FILE": str(workdir / "lost" / "keyring.json")}, 2,
            ("cannot start", "keyring does not open this database's keys")),
        "a keyring others may read, in production": Mistake(("serve",), {
            "MEMBERVAULT_MODE": "production", "MEMBERVAULT_ISSUER": HTTPS_ISSUER,
            "MEMBERVAULT_SMTP_HOST": "smtp.example.com",
            "MEMBERVAULT_KEK_FILE": keyring_at(workdir / "open-keyring.json", 0o644)}, 2,
            ("accessible by group or others", "chmod 600")),
        "bad revision": Mistake(("db", "upgrade", "--revision", "zzz"), {}, 1,
                                ("cannot upgrade to 'zzz'",)),
    }


@dataclass
class Outcome:
    mistake: Mistake
    exit_code: int
    output: str


@pytest.fixture(scope="module")
def blank_url(server: Server, tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of the backend under test."""
    if BACKEND == "postgresql":
        with fresh_postgres_database(request.getfixturevalue("postgres_server_url"),
                                     "mv_blank") as url:
            yield url
        return
    yield f"sqlite:///{tmp_path_factory.mktemp('blank') / 'blank.db'}"


@pytest.fixture(scope="module")
def outcomes(server: Server, blank_url: str,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    workdir = tmp_path_factory.mktemp("operator")
    cases = mistakes(server, workdir, blank_url)
    with ExitStack() as stack:
        started = {name: stack.enter_context(subprocess.Popen(
            [str(BIN), *case.args], cwd=workdir, env={**server.env, **case.env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            for name, case in cases.items()}
        found = {}
        for name, process in started.items():
            try:
                output = process.communicate(timeout=180)[0]
            except subprocess.TimeoutExpired:
                process.kill()  # a start that did not fail: it would be serving
                output = process.communicate()[0]
            found[name] = Outcome(cases[name], process.returncode, output)
    return found


CASES = ["port in use", "port out of range", "bad DATABASE_URL", "never migrated",
         "unreachable PostgreSQL", "another installation's keyring",
         "a regenerated development keyring", "a keyring others may read, in production",
         "bad revision"]


@pytest.mark.parametrize("name", CASES)
def test_a_mistake_ends_in_one_line_and_an_exit_code(name: str,
                                                     outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[name]
    mistake = outcome.mistake
    assert outcome.exit_code == mistake.exit_code, outcome.output
    assert "Traceback" not in outcome.output
    lines = [line for line in outcome.output.splitlines() if line.strip()]
    if mistake.one_line:
        assert len(lines) == 1, outcome.output
    text = " ".join(" ".join(lines).split())
    for words in mistake.says:
        assert words in text, outcome.output
    for words in mistake.never:
        assert words not in text, outcome.output


def test_the_running_server_is_still_ready_and_its_database_was_not_touched(
        server: Server, outcomes: dict[str, Outcome]) -> None:
    import httpx

    assert httpx.get(f"{server.base}/readyz").json() == {"status": "ready"}
    assert server.process is not None and server.process.poll() is None


def test_a_new_sqlite_database_is_created_private(tmp_path: Path, server: Server) -> None:
    if BACKEND != "sqlite":
        pytest.skip("a PostgreSQL database is the server's to protect")
    path = tmp_path / "fresh.db"
    done = subprocess.run([str(BIN), "db", "upgrade"], cwd=tmp_path, check=False,
                          env={**server.env, "MEMBERVAULT_DATABASE_URL": f"sqlite:///{path}"},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
