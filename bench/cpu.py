"""Profiling aid: CPU time per member of B1-B4 and B6 on a small data set.

``python -m bench.cpu [--members N] [--only B1,B3] [--repeats N] [--cprofile B3]
[--db sqlite|postgresql]``

Runs the targets' own code (the same checks first) with the timing of
:func:`bench.measure.pair` swapped for process CPU time, best of ``--repeats`` per side,
so that a change's effect shows on a shared machine whose wall clock moves 2-3x between
runs (this process's CPU only: a PostgreSQL server's own work is not in it). It judges
nothing and writes nothing; ``--cprofile`` prints the measured side's top functions
(cumulative and own time) for one target.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections.abc import Callable
from typing import Any

from bench import measure, targets
from bench.measure import Series

_profiled: dict[str, Any] = {"target": None, "current": None}


_timed_pair = measure.pair


def _pair(measured: Callable[[], Any], floor: Callable[[], Any], repeats: int,
          **options: Any) -> tuple[Series, Series]:
    """:func:`bench.measure.pair` (timed by process CPU, see ``main``), then the
    measured side under cProfile for the target asked for."""
    a, b = _timed_pair(measured, floor, repeats, **options)
    if _profiled["target"] == _profiled["current"]:
        before = options.get("before")
        profile = cProfile.Profile()
        if before:
            before()
        profile.runcall(measured)
        stats = pstats.Stats(profile).strip_dirs()
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(35)
    # The best sample is the least disturbed one: report it as every sample.
    return Series([min(a.samples)]), Series([min(b.samples)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--only", default="B1,B2,B3,B4,B6")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cprofile", default=None)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    from bench.asgi import InProcess
    from bench.data import analyze, seed_members
    from bench.env import Server, new_keyring, open_env, workspace
    from membervault.app import create_app

    _profiled["target"] = args.cprofile
    measure.CLOCK = time.process_time
    for module in (targets, measure):
        setattr(module, "pair", _pair)  # noqa: B010  (the targets' own timing, swapped)
    runners = {"B1": targets.b1, "B2": targets.b2, "B3": targets.b3, "B4": targets.b4,
               "B6": targets.b6}
    with workspace() as workdir:
        server = Server(args.db, workdir)
        env = open_env(args.db, server.create("main"), workdir,
                       keyring_file=new_keyring(workdir))
        client = None
        try:
            seeded = seed_members(env, args.members)
            analyze(env)
            client = InProcess(create_app(env.settings, env.services))
            bench = targets.Bench(env=env, seeded=seeded, quick=True, repeats=args.repeats,
                                  app=client.app, client=client, say=print)
            for target in args.only.upper().split(","):
                _profiled["current"] = target
                result = runners[target](bench)
                per = result.details.get("members") or result.details.get("numbers") or 1
                if result.measured_series is None or result.floor_series is None:
                    print(f"{target}: {result.status} {result.note}", flush=True)
                    continue
                a, b = result.measured_series["median"], result.floor_series["median"]
                print(f"{target}: measured {a / per * 1e6:7.1f} us CPU/member, "
                      f"floor {b / per * 1e6:7.1f} us, ratio {a / b:.2f}x "
                      f"({per:,} members, best of {args.repeats})", flush=True)
        finally:
            if client is not None:
                client.close()
            env.close()
            server.close()


if __name__ == "__main__":
    main()
