"""docs/performance.md's results section: written between its markers only."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import report
from bench.report import (
    END,
    START,
    gaps,
    section,
    sources,
    with_earlier_full_runs,
    write_docs,
)

DOC = f"""# Performance

Intro, kept as written.

## Latest figures

{START}
the old tables
{END}

## After the section

Kept too.
"""


def test_only_the_marked_section_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "performance.md"
    path.write_text(DOC)
    write_docs(path, "### sqlite\n\n| new | table |\n")
    text = path.read_text()
    before, after = DOC.split(START)[0], DOC.split(END)[1]
    assert text.startswith(before) and text.endswith(after)
    assert f"{START}\n### sqlite\n\n| new | table |\n{END}" in text
    assert "the old tables" not in text
    write_docs(path, "second run")  # the markers stay, so the next run replaces it again
    assert path.read_text() == f"{before}{START}\nsecond run\n{END}{after}"


@pytest.mark.parametrize("text", ["no markers at all", f"{START} only the start",
                                  f"{END} reversed {START}", f"{START}{END}{START}{END}"])
def test_a_document_without_one_marked_section_is_left_alone(tmp_path: Path,
                                                             text: str) -> None:
    path = tmp_path / "performance.md"
    path.write_text(text)
    with pytest.raises(ValueError):
        write_docs(path, "tables")
    assert path.read_text() == text


def test_the_repository_document_has_the_section() -> None:
    text = report.DOCS.read_text()
    assert text.count(START) == 1 and text.count(END) == 1


def _result(id_: str, status: str = "pass", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "what": "", "target": "<= 2x", "status": status, "measured": "2 s",
            "floor": "1 s", "ratio": 2.0, "ratio_text": "", "variant": "", "checked": [],
            "note": "", **extra}


def _run(path: Path, database: str, results: list[dict[str, Any]], *,
         targets: list[str] | None = None, quick: bool = False) -> Path:
    path.write_bytes(orjson.dumps({
        "date": "2026-12-01", "database": database, "quick": quick,
        "config": {"members": 100_000, "sweep_members": 1_000_000, "repeats": 5,
                   "sized": False},
        "targets": targets or report.ORDER, "seconds": 1234.5,
        "machine": {"python": "3.11.7", "platform": "Linux", "processor": "x86_64"},
        "results": results}))
    return path


def test_the_section_has_every_row_and_what_was_checked(tmp_path: Path) -> None:
    path = _run(tmp_path / "2026-12-01-sqlite.json", "sqlite", [
        _result("B1", checked=["1,000 members' values equal"]),
        _result("B5", variant="1 worker", ratio_text="0.5x (p99 2.0x)"),
        _result("B5", variant="2 workers", status="falls short"),
        _result("B9", status="check failed", note="different rows in members")])
    text = section([path], {"postgresql": "not reachable"})
    assert "| B1 | 2 s | 1 s | 2.00x | <= 2x | pass |" in text
    assert "| B5 (1 worker) | 2 s | 1 s | 0.5x (p99 2.0x) | <= 2x | pass |" in text
    assert "| B5 (2 workers) |" in text
    assert "- B1: 1,000 members' values equal" in text
    assert "- B9: **check failed**: different rows in members" in text
    assert "Not run: not reachable." in text
    assert "`2026-12-01-sqlite.json`: full run of all targets" in text


def test_a_run_of_some_targets_is_quoted_over_the_last_complete_run(tmp_path: Path) -> None:
    complete = _run(tmp_path / "2026-11-30-sqlite.json", "sqlite",
                    [_result("B1"), _result("B9", status="falls short")])
    _run(tmp_path / "2026-11-30-sqlite-quick.json", "sqlite", [_result("B1")], quick=True)
    old = time.time() - 3600
    os.utime(complete, (old, old))
    subset = _run(tmp_path / "2026-12-01-sqlite-B9.json", "sqlite", [_result("B9")],
                  targets=["B9"])
    sources = with_earlier_full_runs([subset], tmp_path)
    assert sources == [complete, subset]
    text = section(sources)
    assert "| B1 |" in text and text.count("| B9 |") == 1 and "| B9 | 2 s | 1 s | 2.00x | " \
        "<= 2x | pass |" in text
    assert with_earlier_full_runs([complete], tmp_path) == [complete]


def test_a_database_the_run_did_not_cover_keeps_its_last_complete_run(tmp_path: Path) -> None:
    postgresql = _run(tmp_path / "2026-11-30-postgresql.json", "postgresql", [_result("B1")])
    _run(tmp_path / "2026-11-30-postgresql-quick.json", "postgresql", [_result("B1")],
         quick=True)
    sqlite = _run(tmp_path / "2026-12-01-sqlite.json", "sqlite", [_result("B1")])
    assert sources([sqlite], tmp_path) == [sqlite, postgresql]
    assert "### sqlite" in section(sources([sqlite], tmp_path))
    assert "### postgresql" in section(sources([sqlite], tmp_path))


def test_a_run_that_would_lose_figures_leaves_the_section_alone(tmp_path: Path) -> None:
    """Result files are not committed: on a fresh checkout a run of some targets finds
    no complete run to be quoted over, and a database it did not cover none to keep."""
    quoting = DOC.replace("the old tables", (
        "Written by `python -m bench` (`make bench`) from "
        "`bench/results/2026-11-30-sqlite.json`, `bench/results/2026-11-30-sqlite-B1-B5.json`, "
        "`bench/results/2026-11-30-postgresql.json`; ...\n### sqlite\n| B1 |\n"
        "### postgresql\n| B1 |"))
    assert report.quoted(quoting) == ["2026-11-30-sqlite.json", "2026-11-30-sqlite-B1-B5.json",
                                      "2026-11-30-postgresql.json"]
    b9 = _run(tmp_path / "2026-12-01-sqlite-B9.json", "sqlite", [_result("B9")],
              targets=["B9"])
    assert [g.split(" for ")[0] for g in gaps([b9], quoting, tmp_path)] == [
        "it quotes 2026-11-30-sqlite.json", "it quotes 2026-11-30-sqlite-B1-B5.json",
        "it quotes 2026-11-30-postgresql.json"]
    # with the complete runs found, only the newer partial run's rows would be lost
    for name, database in (("2026-11-30-sqlite.json", "sqlite"),
                           ("2026-11-30-postgresql.json", "postgresql")):
        path = _run(tmp_path / name, database, [_result("B1")])
        old = time.time() - 3600
        os.utime(path, (old, old))
    assert gaps([b9], quoting, tmp_path) == [
        "it quotes 2026-11-30-sqlite-B1-B5.json for B1, B5, which this run neither measured "
        f"nor finds in {tmp_path.name}/"]
    # a run measuring those targets again loses nothing; nor does a complete run
    b1_b5 = _run(tmp_path / "2026-12-01-sqlite-B1-B5-B9.json", "sqlite",
                 [_result("B1"), _result("B5"), _result("B9")], targets=["B1", "B5", "B9"])
    assert gaps([b1_b5], quoting, tmp_path) == []
    # a database shown as not run quotes no file, so it holds nothing up
    assert gaps([b1_b5], DOC.replace("the old tables", "### postgresql\n\nNot run: down."),
                tmp_path) == []
