"""Markdown tables from result files, and the results section of docs/performance.md.

``python -m bench`` (a full run at the suite's own sizes, as ``make bench`` starts it)
rewrites the section between the markers ``<!-- bench:results -->`` and
``<!-- /bench:results -->`` in docs/performance.md with the tables of that run; nothing
outside the markers changes. A full run of some targets only (``--only B9``) is merged
onto the newest complete full run of the same database found in bench/results/, and a
database the run did not cover keeps its newest complete full run there (see
:func:`sources`). Where that run is missing (result files are not committed: a fresh
checkout has none), the section is left as it is rather than lose figures it quotes
(:func:`gaps`).

``python -m bench.report FILE [FILE ...]`` prints the section for result files (for a
target found in several files of one database, the last file given wins);
``--write`` also puts it into docs/performance.md.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
RESULTS = ROOT / "bench" / "results"
START = "<!-- bench:results -->"
END = "<!-- /bench:results -->"
ORDER = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11"]
DATABASES = ("sqlite", "postgresql")


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(path.read_bytes())
    return document


def _run_line(path: Path, document: dict[str, Any]) -> str:
    config = document["config"]
    targets = document.get("targets", [])
    which = "all targets" if targets == ORDER else ", ".join(targets)
    return (f"`{path.name}`: {'quick' if document['quick'] else 'full'} run of {which}, "
            f"{config['members']:,} members (B9: {config['sweep_members']:,}), "
            f"{config['repeats']} repetitions, {document['seconds']:,.0f} s, Python "
            f"{document['machine']['python']} on {document['machine']['platform']}")


def _ratio(result: dict[str, Any]) -> str:
    if result.get("ratio_text"):
        return str(result["ratio_text"])
    return f"{result['ratio']:.2f}x" if result.get("ratio") is not None else "-"


def _label(result: dict[str, Any]) -> str:
    variant = result.get("variant")
    return f"{result['id']} ({variant})" if variant else str(result["id"])


def tables(paths: list[Path]) -> str:
    """One table per database (with the checks each target passed)."""
    by_db: dict[str, dict[str, list[dict[str, Any]]]] = {}
    runs: dict[str, list[str]] = {}
    for path in paths:
        document = _load(path)
        db = document["database"]
        runs.setdefault(db, []).append(_run_line(path, document))
        found: dict[str, list[dict[str, Any]]] = {}
        for result in document["results"]:
            found.setdefault(result["id"], []).append(result)
        by_db.setdefault(db, {}).update(found)  # a later file's target replaces an earlier's
    out = []
    for db, results in by_db.items():
        out.append(f"### {db}\n")
        out.append("\n".join(f"- {line}" for line in runs[db]) + "\n")
        out.append("| target | measured (median) | floor (median) | ratio | target | result |")
        out.append("|---|---|---|---|---|---|")
        checks = []
        for target in ORDER:
            for r in results.get(target, []):
                out.append(f"| {_label(r)} | {r['measured'] or '-'} | {r['floor'] or '-'} | "
                           f"{_ratio(r)} | {r['target']} | {r['status']} |")
                if r.get("checked"):
                    checks.append(f"- {_label(r)}: " + "; ".join(r["checked"]))
                elif r["status"] in ("check failed", "error"):
                    checks.append(f"- {_label(r)}: **{r['status']}**: {r['note']}")
        if checks:
            out.append("\nChecked before the figures count:\n")
            out += checks
        out.append("")
    return "\n".join(out)


def section(paths: list[Path], skipped: dict[str, str] | None = None) -> str:
    """The text between the markers: how it was made, then :func:`tables`."""
    names = ", ".join(f"`bench/results/{p.name}`" for p in paths)
    lines = [f"Written by `python -m bench` (`make bench`) from {names}; the next full run "
             "replaces everything between the markers. The ratio is the figure (both sides "
             "in one run, alternating); absolute times move with the machine's load.", ""]
    for db, reason in (skipped or {}).items():
        lines += [f"### {db}\n", f"Not run: {reason}.", ""]
    return "\n".join(lines) + "\n" + tables(paths)


def write_docs(path: Path, body: str) -> None:
    """Replace what is between the markers in ``path`` with ``body``; nothing else."""
    text = path.read_text()
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"{path} needs exactly one {START} ... {END} section")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{START}\n{body.strip()}\n{END}{after}")


def _complete(document: dict[str, Any]) -> bool:
    return (not document["quick"] and document.get("targets") == ORDER
            and not document["config"].get("sized", True))


def with_earlier_full_runs(written: list[Path], results: Path = RESULTS) -> list[Path]:
    """The files to quote: ``written``, each preceded (for a run of some targets only) by
    the newest complete full run of its database in ``results``."""
    out: list[Path] = []
    for path in written:
        document = _load(path)
        if not _complete(document):
            earlier = _newest_complete(document["database"], results, besides=path)
            if earlier is not None:
                out.append(earlier)
        out.append(path)
    return out


def _newest_complete(database: str, results: Path, besides: Path | None = None) -> Path | None:
    found = sorted((p for p in results.glob(f"*-{database}.json") if p != besides),
                   key=lambda p: p.stat().st_mtime)
    complete = [p for p in found if _complete(_load(p))]
    return complete[-1] if complete else None


def sources(written: list[Path], results: Path = RESULTS) -> list[Path]:
    """What the section quotes after a run that wrote ``written``: per database, this
    run's files (over the newest complete full run when they cover some targets only),
    or, for a database this run did not cover, its newest complete full run."""
    covered = {_load(p)["database"] for p in written}
    out = with_earlier_full_runs(written, results)
    for database in DATABASES:
        if database not in covered:
            newest = _newest_complete(database, results)
            if newest is not None:
                out.append(newest)
    return out


QUOTED = re.compile(r"`bench/results/([^`]+\.json)`")


def quoted(text: str) -> list[str]:
    """The result files the results section of ``text`` was written from."""
    if START not in text or END not in text:
        return []
    return QUOTED.findall(text.split(START, 1)[1].split(END, 1)[0])


def _covers(name: str) -> tuple[str, set[str]]:
    """The database and the targets of a result file, by its name
    (``2026-12-01-sqlite-B5-B9.json``; no targets named: all of them)."""
    database = next(d for d in DATABASES if f"-{d}" in name)
    return database, set(re.findall(r"-(B\d+)(?=[-.])", name)) or set(ORDER)


def gaps(written: list[Path], text: str, results: Path = RESULTS) -> list[str]:
    """Why rewriting the section of ``text`` after a run that wrote ``written`` would lose
    figures (none: nothing is lost): a file the section quotes that the new section would
    not, for targets this run did not measure. Result files are not committed, so on a
    fresh checkout a run of some targets finds nothing to be quoted over."""
    new = {p.name for p in sources(written, results)}
    measured: dict[str, set[str]] = {}
    for path in written:
        document = _load(path)
        measured.setdefault(document["database"], set()).update(document["targets"])
    found = []
    for name in quoted(text):
        database, targets = _covers(name)
        left = targets - measured.get(database, set())
        if name not in new and left:
            found.append(f"it quotes {name} for {', '.join(t for t in ORDER if t in left)}, "
                         "which this run neither measured nor finds in "
                         f"{results.name}/")
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--write", action="store_true",
                        help=f"replace the results section of {DOCS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = section(args.files)
    if args.write:
        write_docs(DOCS, text)
    print(text)


if __name__ == "__main__":
    main()
