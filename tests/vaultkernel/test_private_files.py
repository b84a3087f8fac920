"""Files that hold personal data are created 0600 whatever the umask: the SQLite database
(and the -wal and -shm files SQLite derives from it), the development mailbox, export
archives (through ``create_new``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from vaultkernel.database import create_db_engine
from vaultkernel.mailer import MailboxFileMailer
from vaultkernel.private_files import create_new, ensure_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o277], ids=["umask-000", "umask-022", "umask-277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "var" / "membervault.db"
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (v TEXT)"))
            connection.execute(text("INSERT INTO t VALUES ('janelle.qv@example.org')"))
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        engine.dispose()


def test_the_development_mailbox_is_private(tmp_path: Path, umask: int) -> None:
    mailbox = tmp_path / "var" / "mailbox.txt"
    MailboxFileMailer(mailbox).send("janelle.qv@example.org", "Your code", "123456")
    assert mode(mailbox) == 0o600
    assert "janelle.qv@example.org" in mailbox.read_text()


def test_create_new_is_exactly_0600_and_never_reuses_a_file(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "archive.zip.sealed"
    os.close(create_new(path))
    assert mode(path) == 0o600
    with pytest.raises(FileExistsError):
        create_new(path)


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "membervault.db"
    path.write_bytes(b"")
    path.chmod(0o640)
    assert ensure_private(path) is False
    assert mode(path) == 0o640
