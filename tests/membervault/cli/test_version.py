"""``membervault --version`` (membervault/cli/__init__.py): the installed distribution's
version, on standard output, before any configuration is read."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from tests.membervault.cli.support import ok


def test_version_prints_the_package_version_on_standard_output(workdir: Path) -> None:
    result = ok("--version")
    assert result.stdout == f"membervault {metadata.version('membervault')}\n"
    assert result.stderr == ""


def test_version_needs_no_database_nor_keyring(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MEMBERVAULT_DATABASE_URL": "postgresql://nowhere.invalid/x",
           "MEMBERVAULT_KEK_FILE": str(tmp_path / "missing.json")}
    done = subprocess.run([sys.executable, "-m", "membervault", "--version"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, f"membervault {metadata.version('membervault')}\n")
    assert not (tmp_path / "missing.json").exists()
