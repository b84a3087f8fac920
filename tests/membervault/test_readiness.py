"""Operator mistakes end in one clear line and an exit code, never a traceback, and a
server that cannot serve says so on ``/readyz``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from starlette.testclient import TestClient

from identity.keyring import Keyring, save_keyring
from membervault.app import create_app
from tests.membervault.cli.support import run
from vaultkernel.settings import load_settings


def one_line_failure(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def with_data(workdir: Path) -> Path:
    assert run("db", "upgrade").exit_code == 0
    assert run("demo", "--members", "3").exit_code == 0
    return workdir


def test_a_regenerated_development_keyring_stops_the_start(with_data: Path) -> None:
    (with_data / "keys" / "keyring.json").unlink()  # a new one is generated on the next run
    line = one_line_failure(run("worker", "--once"), 2)
    assert "cannot start" in line and "keyring does not open this database's keys" in line


def test_another_installations_keyring_stops_the_start(with_data: Path) -> None:
    other = Keyring.generate()
    other.generated = False
    save_keyring(other, with_data / "keys" / "keyring.json")
    line = one_line_failure(run("client", "list"), 2)
    assert "keyring does not open" in line


def test_readyz_says_why_it_is_not_ready(with_data: Path) -> None:
    (with_data / "keys" / "keyring.json").unlink()
    with TestClient(create_app(load_settings())) as http:
        assert http.get("/healthz").status_code == 200
        ready = http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "keyring_mismatch"}


def test_a_database_never_migrated(workdir: Path) -> None:
    line = one_line_failure(run("worker", "--once"), 2)
    assert "is never migrated" in line and "membervault db upgrade" in line


def test_an_unreachable_postgresql(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL",
                       f"postgresql://postgres:s3cret@127.0.0.1:{port}/nowhere")
    line = one_line_failure(run("worker", "--once"), 2)
    assert f"cannot reach the database (postgresql at 127.0.0.1:{port}/nowhere)" in line
    assert "s3cret" not in line
    upgrade = one_line_failure(run("db", "upgrade"), 2)
    assert "cannot upgrade" in upgrade and "s3cret" not in upgrade


@pytest.mark.parametrize("url", ["nonsense://", "garbage", "mysql://u:pw@h/db"])
def test_a_bad_database_url(workdir: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", url)
    line = one_line_failure(run("db", "upgrade"), 2)
    assert "MEMBERVAULT_DATABASE_URL" in line and "pw" not in line


def test_a_bad_revision(workdir: Path) -> None:
    line = one_line_failure(run("db", "upgrade", "--revision", "zzz"), 1)
    assert "cannot upgrade to 'zzz'" in line


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_port_in_use(with_data: Path, busy_port: int) -> None:
    line = one_line_failure(run("serve", "--port", str(busy_port)), 2)
    assert f"cannot listen on 127.0.0.1:{busy_port}" in line


def test_a_port_out_of_range(with_data: Path) -> None:
    result = run("serve", "--port", "99999")
    assert result.exit_code == 2
    assert "65535" in result.output and "Traceback" not in result.output
