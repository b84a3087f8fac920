"""Log configuration: one record per line, never a personal value (see docs/security.md).

Two formats, both safe against forged lines:

- ``json`` (production's default): one JSON object per line, ``time``, ``level``,
  ``logger``, ``message``, ``requestId``, ``traceId`` and ``spanId`` (on every line, null
  outside a request or a worker pass) and the record's extra fields (``method``,
  ``path``, ``status``, ...), every value escaped by the JSON encoder (non-ASCII too), so
  a newline a caller smuggled in stays inside its string;
- ``console`` (development's default): ``time level logger message``; control characters
  are escaped and every further line of a record is indented, so nothing can look like
  the start of another record.

An exception is written as its type and stack frames, never its message: a message may
carry the input that caused it (the address a mail relay refused, a value a parser
choked on). That holds for every logger, uvicorn's included.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import traceback
from types import TracebackType
from typing import IO, Any

from vaultkernel.request_id import current_request_id
from vaultkernel.telemetry import current_trace_ids

FORMATS = ("json", "console")
# What every LogRecord has; anything else on a record came as ``extra`` and is a field.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Control characters (a newline included), and the separators some viewers break lines at.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def exception_summary(exc_info: ExcInfo | tuple[None, None, None]) -> dict[str, Any]:
    """The exception's type, the types it was raised from, and its frames: no message."""
    _, exc, tb = exc_info
    if exc is None:
        return {}
    causes = []
    seen = {id(exc)}
    link = exc.__cause__ or exc.__context__
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        causes.append(type(link).__name__)
        link = link.__cause__ or link.__context__
    summary: dict[str, Any] = {"type": type(exc).__name__,
                               "frames": "".join(traceback.format_tb(tb)).rstrip("\n")}
    if causes:
        summary["causes"] = causes
    return summary


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_")}


def _time(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLines(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": _time(record), "level": record.levelname,
                                 "logger": record.name, "message": record.getMessage()}
        request_id = current_request_id()
        trace_ids = current_trace_ids()
        entry["requestId"] = request_id if request_id != "-" else None
        entry["traceId"], entry["spanId"] = trace_ids or (None, None)
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = exception_summary(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=True, default=str, separators=(",", ":"))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def one_record(text: str) -> str:
    """Control characters escaped, except newlines, after which the text is indented."""
    lines = [_CONTROL.sub(_escape, line) for line in text.split("\n")]
    return "\n    ".join(lines)


class ConsoleLines(logging.Formatter):
    """Readable lines for a developer's terminal."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
        text = (f"{moment:%Y-%m-%d %H:%M:%S},{record.msecs:03.0f} {record.levelname} "
                f"{record.name} {record.getMessage()}")
        if record.exc_info:
            summary = exception_summary(record.exc_info)
            causes = "".join(f" (from {c})" for c in summary.get("causes", ()))
            text += f"\n{summary['type']}{causes}\n{summary['frames']}"
        if record.stack_info:
            text += "\n" + record.stack_info
        return one_record(text)


def formatter(name: str) -> logging.Formatter:
    if name not in FORMATS:
        raise ValueError(f"unknown log format {name!r}")
    return JsonLines() if name == "json" else ConsoleLines()


def configure_logging(level: int = logging.INFO, *, log_format: str = "console",
                      stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
