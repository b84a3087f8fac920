"""``membervault db upgrade`` (membervault/cli/database.py)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.membervault.cli.support import ok


def test_db_upgrade_creates_the_schema(workdir: Path) -> None:
    result = ok("db", "upgrade")
    assert "head" in result.stderr
    engine = sa.create_engine(f"sqlite:///{workdir / 'cli.db'}")
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"members", "clients", "signing_keys", "sign_in_codes", "alembic_version"} <= tables
    ok("db", "upgrade")  # idempotent
