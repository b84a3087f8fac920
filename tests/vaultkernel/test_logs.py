"""The log formats (vaultkernel.logs): one record per line whatever a message holds, and
exceptions by type and frames, never by message."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable

import pytest

from tests.conftest import ServerLog
from vaultkernel.logs import exception_summary
from vaultkernel.request_id import reset_request_id, set_request_id

SECRET = "janelle.qv@example.org"
FORGED = "/graphql\n2026-01-01 00:00:00,000 INFO membervault.http forged\r\x1b[2K\u2028x"
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def fail_with_input() -> None:
    try:
        raise TimeoutError("relay slow for " + SECRET)
    except TimeoutError as first:
        raise ValueError(f"cannot parse {SECRET!r}") from first


def log_failure(logger: logging.Logger) -> None:
    try:
        fail_with_input()
    except ValueError:
        logger.exception("background step failed")


def test_json_lines_are_one_escaped_object_per_record(
        server_log: Callable[[str], ServerLog]) -> None:
    log = server_log("json")
    logger = logging.getLogger("membervault.test")
    token = set_request_id("req-12345678")
    try:
        logger.info("path %s", FORGED, extra={"path": FORGED, "status": 200})
    finally:
        reset_request_id(token)
    logger.warning("plain")
    lines = log.text().splitlines()
    assert len(lines) == 2
    assert all(line.isascii() for line in lines)  # U+2028 and friends escaped too
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == f"path {FORGED}" and first["path"] == FORGED
    assert first["status"] == 200 and first["requestId"] == "req-12345678"
    assert first["level"] == "INFO" and first["logger"] == "membervault.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert second["requestId"] is None and second["traceId"] is None


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_exceptions_are_logged_by_type_and_frames_never_by_message(
        server_log: Callable[[str], ServerLog], log_format: str) -> None:
    log = server_log(log_format)
    log_failure(logging.getLogger("uvicorn.error"))  # any logger, not only ours
    text = log.text()
    assert SECRET not in text and "janelle" not in text
    assert "ValueError" in text and "TimeoutError" in text
    assert "fail_with_input" in text  # the frames are there
    if log_format == "json":
        [record] = log.records()
        assert record["exception"]["type"] == "ValueError"
        assert record["exception"]["causes"] == ["TimeoutError"]


def test_the_console_format_cannot_be_made_to_show_a_forged_record(
        server_log: Callable[[str], ServerLog]) -> None:
    log = server_log("console")
    logger = logging.getLogger("membervault.http")
    logger.info("GET %s 404", FORGED)
    log_failure(logger)
    lines = log.text().splitlines()
    starts = [line for line in lines if RECORD_START.match(line)]
    assert len(starts) == 2, lines
    assert all(RECORD_START.match(line) or line.startswith("    ") for line in lines)
    assert "\r" not in log.text() and "\x1b" not in log.text() and "\u2028" not in log.text()
    assert "forged\\x0d\\x1b[2K\\u2028x" in lines[1]


def test_a_summary_has_no_message() -> None:
    try:
        fail_with_input()
    except ValueError:
        summary = exception_summary(sys.exc_info())
    assert summary["type"] == "ValueError"
    assert SECRET not in json.dumps(summary)
