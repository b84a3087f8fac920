"""Timing: warm up, then alternate the measured path and its floor, and quote medians;
and the correctness checks every target runs before it times anything.

Alternating (measured, floor, measured, floor, ...) spreads the drift of a shared machine
over both sides, so their ratio from one run is meaningful even when absolute times move.
A failed check raises :class:`CheckFailed`: the target's figure is then meaningless, the
run reports "check failed" and exits non-zero (times never fail a run, wrong answers do).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class CheckFailed(Exception):
    """A benchmark's correctness check failed: a wrong or differing answer, a GraphQL
    error, an access log that did not grow by one entry per answer, or different end
    states. Not a timing verdict: ``python -m bench`` exits non-zero."""


def same_values(what: str, got: Sequence[Any], expected: Sequence[Any]) -> int:
    """Check two answers hold the same values, item by item (in order); returns how many
    items were compared. Raises :class:`CheckFailed` naming the first difference."""
    if len(got) != len(expected):
        raise CheckFailed(f"{what}: {len(got):,} items, expected {len(expected):,}")
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        if a != b:
            raise CheckFailed(f"{what}: item {index:,} differs: {_short(a)} != {_short(b)}")
    return len(got)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


@dataclass
class Series:
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    def as_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": min(self.samples) if self.samples else None,
                "max": max(self.samples) if self.samples else None, "samples": self.samples}


# What ``timed`` reads: the wall clock; ``python -m bench.cpu`` sets process CPU time.
CLOCK: Callable[[], float] = time.perf_counter


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    started = CLOCK()
    fn()
    return CLOCK() - started


def pair(measured: Callable[[], Any], floor: Callable[[], Any], repeats: int, *,
         warmup: int = 1, before: Callable[[], Any] | None = None) -> tuple[Series, Series]:
    """Median-ready samples of both sides, alternating; ``before`` runs untimed each time."""
    for _ in range(warmup):
        if before:
            before()
        measured()
        if before:
            before()
        floor()
    a, b = Series(), Series()
    for n in range(repeats):
        # Alternate which side goes first, so neither always follows the other.
        order = ((measured, a), (floor, b)) if n % 2 == 0 else ((floor, b), (measured, a))
        for fn, series in order:
            if before:
                before()
            series.samples.append(timed(fn))
    return a, b


@dataclass
class Result:
    """One benchmark target's outcome, as printed and as written to JSON."""

    id: str
    what: str
    target: str
    # pass | falls short | check failed | error | not available yet | skipped
    status: str
    measured: str = ""  # human text of the measured median
    floor: str = ""  # human text of the floor median
    ratio: float | None = None
    ratio_text: str = ""  # shown instead of the ratio when the figure is not a ratio
    unit: str = "s"
    measured_series: dict[str, Any] | None = None
    floor_series: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    variant: str = ""  # e.g. "1 worker" / "2 workers" when a target is measured twice
    checked: list[str] = field(default_factory=list)  # what its correctness checks verified

    @property
    def label(self) -> str:
        return f"{self.id} ({self.variant})" if self.variant else self.id

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def seconds(value: float) -> str:
    if value != value:  # NaN
        return "-"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.1f} us"


def ratio_result(id_: str, what: str, target: str, limit: float, a: Series, b: Series, *,
                 per: int | None = None, per_label: str = "member", lower_is_better: bool = True,
                 details: dict[str, Any] | None = None, note: str = "",
                 checked: list[str] | None = None) -> Result:
    """A result whose figure is measured median / floor median, passing at <= ``limit``."""
    ratio = a.median / b.median if b.median > 0 else float("inf")
    ok = ratio <= limit if lower_is_better else ratio >= limit

    def text(series: Series) -> str:
        if per:
            return f"{seconds(series.median)} ({seconds(series.median / per)}/{per_label})"
        return seconds(series.median)

    return Result(id=id_, what=what, target=target, status="pass" if ok else "falls short",
                  measured=text(a), floor=text(b), ratio=ratio,
                  measured_series=a.as_json(), floor_series=b.as_json(),
                  details=details or {}, note=note, checked=checked or [])


# ---------------------------------------------------------------------------------------
# Single requests: per-request latencies, alternating blocks


def latencies(measured: Callable[[int], Any], floor: Callable[[int], Any], *, blocks: int,
              per_block: int, warmup: int = 20) -> tuple[list[float], list[float]]:
    """Per-call latencies of both sides: ``blocks`` alternating blocks of ``per_block``
    calls each (``fn(n)`` with a running call number). A block, not a call, alternates,
    so each side runs warm (its own statements, caches and chain tail) as it would alone."""
    for n in range(warmup):
        measured(n)
        floor(n)
    a: list[float] = []
    b: list[float] = []
    clock = time.perf_counter
    call = warmup
    for block in range(blocks):
        order = ((measured, a), (floor, b)) if block % 2 == 0 else ((floor, b), (measured, a))
        for fn, out in order:
            gc.collect()
            for _ in range(per_block):
                started = clock()
                fn(call)
                out.append(clock() - started)
                call += 1
    return a, b


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def p50_result(id_: str, what: str, target: str, limit: float, a: list[float],
               b: list[float], *, details: dict[str, Any] | None = None, note: str = "",
               checked: list[str] | None = None) -> Result:
    """A result whose figure is the measured p50 / the floor's p50 (per request)."""
    pa, pb = statistics.median(a), statistics.median(b)
    ratio = pa / pb if pb > 0 else float("inf")

    def text(samples: list[float], p50: float) -> str:
        return f"p50 {seconds(p50)}, p99 {seconds(percentile(samples, 0.99))}"

    return Result(id=id_, what=what, target=target,
                  status="pass" if ratio <= limit else "falls short",
                  measured=text(a, pa), floor=text(b, pb), ratio=ratio,
                  measured_series={"p50": pa, "p99": percentile(a, 0.99), "requests": len(a)},
                  floor_series={"p50": pb, "p99": percentile(b, 0.99), "requests": len(b)},
                  details={**(details or {}), "p99_ratio": percentile(a, 0.99)
                           / max(percentile(b, 0.99), 1e-12)},
                  note=note, checked=checked or [])
