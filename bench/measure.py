"""Timing: warm up, then alternate the measured path and its floor, and quote medians.

Alternating (measured, floor, measured, floor, ...) spreads the drift of a shared machine
over both sides, so their ratio from one run is meaningful even when absolute times move.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Series:
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    def as_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": min(self.samples) if self.samples else None,
                "max": max(self.samples) if self.samples else None, "samples": self.samples}


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


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
    status: str  # pass | falls short | not implemented | not available yet | error | skipped
    measured: str = ""  # human text of the measured median
    floor: str = ""  # human text of the floor median
    ratio: float | None = None
    ratio_text: str = ""  # shown instead of the ratio when the figure is not a ratio
    unit: str = "s"
    measured_series: dict[str, Any] | None = None
    floor_series: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""

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
                 details: dict[str, Any] | None = None, note: str = "") -> Result:
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
                  details=details or {}, note=note)
