"""What a database holds, table by table, as digests two copies can be compared by.

B9 runs the service's sweep on one copy of a data set and the hand-written floor on
another; both must leave the same rows: the same members erased with the same columns
nulled, the same consent state, records, objections, suppression hashes, outbox events and
deliveries, audit records, and every other row as it was. :func:`end_state` reads every
table of the schema in primary-key order and hashes its rows (values exactly as the driver
returns them; JSON columns in canonical form, since the same object may be written with
its keys in another order). What is random by design is normalised, not skipped:

- an outbox event's id is left out (it is a fresh UUID per event), and a delivery names its
  event by (member, event type) instead of by that id;
- a sealed member number is opened (its nonce is random): the number sealed is compared;
- an audit record's id (an autoincrement in whatever order a batch was written) is left out.

Left out as not part of the work compared: the per-member access-log index and its state
(``access_log_members``, ``access_log_index_state``: derived data the sweep catches up
before it starts) and the sweep's own run records in the audit trail (``retention.sweep``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from membervault.models import Base

DERIVED = frozenset({"access_log_members", "access_log_index_state"})
SWEEP_RECORDS = ("retention.sweep", "retention.sweep.partial")
UNOPENABLE = "<unopenable>"


@dataclass(frozen=True)
class TableState:
    rows: int
    digest: str


def _canonical_json(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str | bytes):
        value = orjson.loads(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _digest(rows: Iterable[Any]) -> TableState:
    hasher = hashlib.sha256()
    count = 0
    for row in rows:
        hasher.update(repr(row).encode())
        hasher.update(b"\n")
        count += 1
    return TableState(count, hasher.hexdigest())


def _uniform(value: Any) -> Any:
    """A driver value in a form that sorts and prints the same on both copies."""
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def end_state(engine: sa.Engine, open_sealed: Callable[[bytes], str],
              tables: Iterable[str] | None = None) -> dict[str, TableState]:
    """One :class:`TableState` per table (every table of the schema but the derived
    ones, or only ``tables``). ``open_sealed`` opens a sealed member number."""
    wanted = set(tables) if tables is not None else None
    state: dict[str, TableState] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in DERIVED or (wanted is not None and table.name not in wanted):
                continue
            state[str(table.name)] = _table_state(connection, table, open_sealed)
    return state


def _table_state(connection: sa.Connection, table: sa.Table,
                 open_sealed: Callable[[bytes], str]) -> TableState:
    name = table.name
    if name == "outbox_events":
        columns = [c.name for c in table.columns if c.name != "id"]
        sealed = columns.index("sealed_member_number")
        rows = _select(connection, name, columns, table)

        def opened(row: list[Any]) -> list[Any]:
            if row[sealed] is not None:
                try:
                    row[sealed] = open_sealed(bytes(row[sealed]))
                except Exception:  # noqa: BLE001  (an unreadable seal is a difference too)
                    row[sealed] = UNOPENABLE
            return row

        return _digest(sorted(_key(opened(r)) for r in rows))
    if name == "outbox_deliveries":
        columns = [c.name for c in table.columns if c.name not in ("id", "event_id")]
        text = (f"SELECT e.member_id, e.type, {', '.join('d.' + c for c in columns)} "
                "FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id")
        rows = [[_uniform(v) for v in row] for row in connection.exec_driver_sql(text)]
        return _digest(sorted(_key(r) for r in rows))
    if name == "audit_events":
        columns = [c.name for c in table.columns if c.name != "id"]
        rows = [r for r in _select(connection, name, columns, table)
                if r[columns.index("action")] not in SWEEP_RECORDS]
        return _digest(sorted(_key(r) for r in rows))
    columns = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    return _digest(tuple(r) for r in _select(connection, name, columns, table, keys))


def _select(connection: sa.Connection, name: str, columns: list[str], table: sa.Table,
            order: list[str] | None = None) -> Iterable[list[Any]]:
    text = f"SELECT {', '.join(columns)} FROM {name}"
    if order:
        text += f" ORDER BY {', '.join(order)}"
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)]
    # Streamed (a server-side cursor on PostgreSQL): a table of a million rows never sits
    # in memory whole.
    result = connection.execution_options(stream_results=True, max_row_buffer=5000) \
        .exec_driver_sql(text)
    for row in result:
        values = [_uniform(v) for v in row]
        for i in json_at:
            values[i] = _canonical_json(values[i])
        yield values


def _key(row: list[Any]) -> tuple[Any, ...]:
    """A row as a tuple that sorts whatever its values (None and mixed types)."""
    return tuple((v is None, repr(v)) for v in row)


def differences(a: dict[str, TableState], b: dict[str, TableState]) -> dict[str, Any]:
    """The tables whose rows differ: name -> (rows in a, rows in b)."""
    return {name: (a[name].rows if name in a else None, b[name].rows if name in b else None)
            for name in sorted(set(a) | set(b)) if a.get(name) != b.get(name)}
