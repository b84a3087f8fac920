"""Markdown tables from result files, for docs/performance.md.

``python -m bench.report bench/results/2026-11-23-sqlite.json [more files ...]`` prints one
table per database; for a target found in several files of the same database, the last
file given wins (so a full run plus a later ``--only B9`` run make one table).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from bench.runner import ORDER


def tables(paths: list[Path]) -> str:
    by_db: dict[str, dict[str, dict[str, Any]]] = {}
    runs: dict[str, list[str]] = {}
    for path in paths:
        document = orjson.loads(path.read_bytes())
        db = document["database"]
        runs.setdefault(db, []).append(
            f"{path.name}: {'quick' if document['quick'] else 'full'}, "
            f"{document['config']['members']:,} members, B9 "
            f"{document['config']['sweep_members']:,}, {document['config']['repeats']} "
            f"repetitions, {document['machine']['python']}")
        for result in document["results"]:
            by_db.setdefault(db, {})[result["id"]] = result
    out = []
    for db, results in by_db.items():
        out.append(f"### {db}\n")
        out.append("\n".join(f"- {line}" for line in runs[db]) + "\n")
        out.append("| target | measured (median) | floor (median) | ratio | target | result |")
        out.append("|---|---|---|---|---|---|")
        for target in ORDER:
            r = results.get(target)
            if r is None:
                continue
            ratio = r.get("ratio_text") or (f"{r['ratio']:.2f}x" if r["ratio"] is not None
                                            else "-")
            out.append(f"| {target} | {r['measured'] or '-'} | {r['floor'] or '-'} | {ratio} "
                       f"| {r['target']} | {r['status']} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(tables([Path(p) for p in sys.argv[1:]]))
