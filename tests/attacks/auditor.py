"""What an auditor sees of the attacked server from outside the process: the access log
through the officer's API, and the database the server writes (row counts and raw rows)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from membervault.models import Base
from tests.attacks.server import Server
from tests.conftest import Api
from vaultkernel.database import create_db_engine

VERIFY = "{ verifyAccessLog { ok checked firstBrokenSequence problem } }"
ACCESS_LOG = """query($member: ID!) { accessLog(filter: {memberId: $member}, first: 200) {
  items { sequence principal purpose memberId fieldsReturned fieldsDenied { field reason } }
} }"""


def log_entries(officer: Api) -> int:
    """How many entries the access log's hash chain holds, as verification counts them."""
    result = officer.graphql(VERIFY)
    verification = result["data"]["verifyAccessLog"]
    assert verification["ok"], verification
    return int(verification["checked"])


def access_log_of(officer: Api, member_id: str) -> list[dict[str, Any]]:
    result = officer.graphql(ACCESS_LOG, {"member": member_id})
    assert "errors" not in result, result
    items: list[dict[str, Any]] = result["data"]["accessLog"]["items"]
    return items


def row_counts(server: Server) -> dict[str, int]:
    """Rows per table of the server's database."""
    engine = create_db_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return {table.name: int(connection.execute(
                sa.select(sa.func.count()).select_from(table)).scalar_one())
                for table in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def written(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Rows added (or removed) per table between two counts."""
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def stored_rows(server: Server, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table as stored, read with the database's own driver: what someone
    reading the table with the database's tools would see."""
    engine = create_db_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(
                sa.select(Base.metadata.tables[table]))]
    finally:
        engine.dispose()


def raw_rows(server: Server, table: str) -> list[str]:
    """The rows of :func:`stored_rows` as text (bytes as their repr), to search in."""
    return [repr(row) for row in stored_rows(server, table)]


def holders_of(server: Server, value: bytes) -> list[str]:
    """Every table with a stored binary value that holds ``value``."""
    return [table.name for table in Base.metadata.sorted_tables
            if any(isinstance(cell, bytes) and value in cell
                   for row in stored_rows(server, table.name) for cell in row)]
