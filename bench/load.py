"""B5: the real service (``membervault serve``: uvicorn, one worker) and the floor app
(:mod:`bench.floor_app`, same uvicorn settings) on loopback, each driven by a real load
generator: ``wrk`` (Debian package; ``make bench`` installs it) with a Lua script that adds
the bearer token and a POST body naming a different consenting member on each request, 50
connections, bounded in time. Without wrk, a Python asyncio + httpx generator with the
same shape is used and the result says so.

Only loopback addresses are used; every run stops by itself.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from audit.models import AccessLogEntry
from bench.env import ISSUER, Server
from bench.measure import Result
from bench.targets import Bench

CONNECTIONS = 50
QUERY = ("query($p: String!, $n: String!) { memberData(purpose: $p, memberNumber: $n) "
         "{ givenName familyName email } }")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Load:
    generator: str
    requests: int
    seconds: float
    rps: float
    p50: float  # seconds
    p99: float
    errors: int
    log_entries: int = 0

    def text(self) -> str:
        return (f"{self.rps:,.0f} req/s, p50 {self.p50 * 1e3:.1f} ms, "
                f"p99 {self.p99 * 1e3:.1f} ms, {self.errors} errors")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, path: str, process: subprocess.Popen[bytes], log: Path,
               timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: "
                               f"{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not ready after {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_service(bench: Bench, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ,
           "MEMBERVAULT_DATABASE_URL": bench.env.url,
           "MEMBERVAULT_KEK_FILE": str(bench.env.keyring_file),
           "MEMBERVAULT_ISSUER": ISSUER,
           "MEMBERVAULT_MAILBOX_FILE": str(workdir / "mailbox.txt"),
           "MEMBERVAULT_EXPORT_DIR": str(workdir / "exports"),
           "PYTHONPATH": str(ROOT)}
    log = workdir / "service.log"
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "membervault", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "1"], cwd=workdir, env=env,
        stdout=log.open("wb"), stderr=subprocess.STDOUT)


def start_floor(bench: Bench, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    log = workdir / "floor.log"
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bench.floor_app", "--url", bench.env.url, "--kek-file",
         str(bench.env.keyring_file), "--port", str(port)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log.open("wb"), stderr=subprocess.STDOUT)


def bodies(bench: Bench, count: int = 1000) -> list[bytes]:
    numbers = bench.seeded.email_numbers[:count]
    return [orjson.dumps({"query": QUERY, "variables": {"p": "marketing.email", "n": n}})
            for n in numbers]


def lua_script(path: Path, token: str, payloads: list[bytes]) -> None:
    entries = ",\n".join(f"[==[{p.decode()}]==]" for p in payloads)
    path.write_text(f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local bodies = {{
{entries}
}}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/graphql", nil, bodies[(counter % #bodies) + 1])
end
""")


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _duration(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse_wrk(output: str) -> Load:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output)
        if match is None:
            raise RuntimeError(f"unexpected wrk output:\n{output}")
        return match

    total = find(r"(\d+) requests in ([\d.]+\w+),")
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    return Load(generator="wrk", requests=int(total.group(1)),
                seconds=_duration(total.group(2)),
                rps=float(find(r"Requests/sec:\s+([\d.]+)").group(1)),
                p50=_duration(find(r"(?m)^\s+50%\s+(\S+)\s*$").group(1)),
                p99=_duration(find(r"(?m)^\s+99%\s+(\S+)\s*$").group(1)), errors=errors)


def run_wrk(port: int, script: Path, seconds: int) -> Load:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
               "--latency", "-s", str(script), f"http://127.0.0.1:{port}/graphql"]
    done = subprocess.run(command, capture_output=True, text=True,  # noqa: S603
                          timeout=seconds + 60, check=True)
    return parse_wrk(done.stdout)


def run_python(port: int, token: str, payloads: list[bytes], seconds: int) -> Load:
    """The fallback generator: 50 connections from one asyncio loop (httpx)."""

    async def drive() -> Load:
        latencies: list[float] = []
        errors = 0
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=CONNECTIONS,
                              max_keepalive_connections=CONNECTIONS)
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                     timeout=10) as client:

            async def worker(offset: int) -> None:
                nonlocal errors
                n = offset
                while time.monotonic() < deadline:
                    n += 1
                    started = time.perf_counter()
                    try:
                        response = await client.post("/graphql", headers=headers,
                                                     content=payloads[n % len(payloads)])
                        if response.status_code != 200:
                            errors += 1
                    except httpx.HTTPError:
                        errors += 1
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(worker(i * 37) for i in range(CONNECTIONS)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        return Load(generator="python (asyncio + httpx)", requests=len(latencies),
                    seconds=elapsed, rps=len(latencies) / elapsed,
                    p50=statistics.median(latencies),
                    p99=latencies[int(len(latencies) * 0.99) - 1], errors=errors)

    return asyncio.run(drive())


def _log_count(bench: Bench) -> int:
    with bench.env.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AccessLogEntry)) or 0)


def drive(bench: Bench, port: int, seconds: int, payloads: list[bytes], script: Path | None,
          token: str) -> Load:
    """A short warm-up, then the measured run; counts the access-log entries written."""
    if script is not None:
        run_wrk(port, script, 1)
    else:
        run_python(port, token, payloads, 1)
    before = _log_count(bench)
    load = (run_wrk(port, script, seconds) if script is not None
            else run_python(port, token, payloads, seconds))
    load.log_entries = _log_count(bench) - before
    return load


def preflight(port: int, token: str, payload: bytes) -> dict[str, Any]:
    response = httpx.post(f"http://127.0.0.1:{port}/graphql", content=payload, timeout=10,
                          headers={"authorization": f"Bearer {token}",
                                   "content-type": "application/json"})
    answer: dict[str, Any] = response.json()
    if response.status_code != 200 or "errors" in answer or \
            not answer["data"]["memberData"]["email"]:
        raise RuntimeError(f"preflight failed: {response.status_code} {response.text[:300]}")
    return answer


def b5(bench: Bench, server: Server, seconds: int) -> Result:
    token = bench.env.token("email-marketing")
    payloads = bodies(bench)
    workdir = Path(tempfile.mkdtemp(prefix="b5-", dir=bench.env.workdir))
    script: Path | None = None
    if shutil.which("wrk"):
        script = workdir / "profile.lua"
        lua_script(script, token, payloads)
    loads: dict[str, Load] = {}
    for side, start, ready in (("service", start_service, "/healthz"),
                               ("floor", start_floor, "/healthz")):
        port = free_port()
        process = start(bench, port, workdir)
        try:
            wait_ready(port, ready, process, workdir / f"{side}.log")
            answer = preflight(port, token, payloads[0])
            bench.say(f"  B5 {side} answers {sorted(answer['data']['memberData'])}")
            loads[side] = drive(bench, port, seconds, payloads, script, token)
            bench.say(f"  B5 {side}: {loads[side].text()}")
        finally:
            stop(process)
    service, floor = loads["service"], loads["floor"]
    throughput = service.rps / floor.rps
    p99 = service.p99 / floor.p99
    ok = throughput >= 0.5 and p99 <= 3 and service.errors == 0
    logged = service.log_entries >= service.requests
    return Result(
        id="B5", what=f"single-profile `memberData` read, {CONNECTIONS} connections, "
        f"{seconds} s (real service under uvicorn) vs a raw ASGI app doing the same DB, "
        "consent, 3 decrypts and log insert", target=">= 0.5x req/s, p99 <= 3x, no errors",
        status="pass" if ok else "falls short", measured=service.text(), floor=floor.text(),
        ratio=throughput, unit="req/s",
        details={"generator": service.generator, "throughput_ratio": throughput,
                 "p99_ratio": p99, "service": service.__dict__, "floor": floor.__dict__,
                 "every_response_logged": logged},
        note=f"load generator: {service.generator}; ratio = throughput; p99 ratio "
        f"{p99:.2f}x; the floor verifies no token")
