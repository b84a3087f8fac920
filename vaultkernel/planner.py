"""Hints for the query planner that hold without statistics.

SQLite has no statistics until someone runs ``ANALYZE``; without them it takes any
equality on an indexed column for a selective one. A page of the consented audience
(``status = 'active' ... ORDER BY id LIMIT 1000``) then goes through the retention index
on ``status`` and sorts every active member for each page: each page costs the whole
table, a full export the square of it. :class:`likely` says that a condition holds for
most rows (SQLite's ``likely()``), so the planner walks the primary key instead. Other
databases get the condition as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class likely(FunctionElement[bool]):  # noqa: N801  (reads like the SQL function)
    """A condition most rows meet: ``likely(members.status == "active")``."""

    type = Boolean()
    inherit_cache = True
    name = "likely"


@compiles(likely)
def _as_is(element: likely, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


@compiles(likely, "sqlite")
def _sqlite(element: likely, compiler: SQLCompiler, **kw: Any) -> str:
    return f"likely({compiler.process(element.clauses, **kw)})"
