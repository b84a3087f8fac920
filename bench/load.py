"""B5: the real service (``membervault serve`` under uvicorn) and the floor app
(:mod:`bench.floor_app`, same uvicorn settings) on loopback, with 1 and then 2 worker
processes each, driven by a real load generator: ``wrk`` (Debian package; ``make bench``
installs it) with a Lua script that adds the bearer token, a request id and a POST body
naming a different consenting member on each request, 50 connections, bounded in time.
Without wrk, a Python asyncio + httpx generator with the same shape is used and the result
says so.

Checks, before any figure counts (a failure fails the run, see ``CheckFailed``):

- both sides give the same values for the same members (a sample, before the load);
- every response under load is a 200 ``memberData`` answer with values and no GraphQL
  error (checked by the load generator on every response);
- the access log grew by exactly one entry per answered request: each answer's request
  id is in the log exactly once, and the only other new entries are requests of this run
  still in flight when the generator stopped (at most one per connection);
- afterwards the hash chain verifies (the floor's workers and the service's workers
  appended to one chain concurrently).

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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from audit.models import AccessLogEntry
from audit.verification import verify
from bench.env import ISSUER, Server
from bench.measure import CheckFailed, Result, same_values
from bench.targets import Bench

CONNECTIONS = 50
WORKERS = (1, 2)  # uvicorn worker processes per side, each measured
SAMPLE = 20  # members whose answers are compared between the sides before the load
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
    errors: int  # socket errors and timeouts
    bad: int = 0  # answers that failed the check (status, GraphQL error, missing values)
    bad_sample: str = ""
    answered: list[str] = field(default_factory=list, repr=False)  # request ids
    log: dict[str, int] = field(default_factory=dict)

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


def bodies(bench: Bench, count: int = 1000) -> list[bytes]:
    numbers = bench.seeded.email_numbers[:count]
    return [orjson.dumps({"query": QUERY, "variables": {"p": "marketing.email", "n": n}})
            for n in numbers]


# Every response is checked by the load generator itself: status 200, a memberData answer,
# no GraphQL "errors", no null value (every member asked about consented and has all
# three fields). The ids of the answers that pass are written out, so the access log can
# be checked against them one by one.
LUA = r"""
wrk.method = "POST"
local token = "Bearer __TOKEN__"
local tag = "__TAG__"
local bodies = {
__BODIES__
}
local threads = {}
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("tid", next_thread)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  answered = {}
  bad = 0
  bad_sample = ""
end

function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = token,
                   ["X-Request-ID"] = tag .. "-" .. tid .. "-" .. counter}
  return wrk.format("POST", "/graphql", headers, bodies[(counter % #bodies) + 1])
end

function response(status, headers, body)
  local id = headers["x-request-id"] or headers["X-Request-ID"]
  if status == 200 and id and string.find(body, '"memberData"', 1, true)
      and not string.find(body, '"errors"', 1, true)
      and not string.find(body, "null", 1, true) then
    answered[#answered + 1] = id
  else
    bad = bad + 1
    if bad_sample == "" then
      bad_sample = tostring(status) .. " " .. string.sub(body, 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local out = io.open("__ANSWERED__", "w")
  local total_bad, sample = 0, ""
  for _, thread in ipairs(threads) do
    for _, id in ipairs(thread:get("answered")) do
      out:write(id, "\n")
    end
    total_bad = total_bad + thread:get("bad")
    if sample == "" then sample = thread:get("bad_sample") end
  end
  out:close()
  io.write(string.format("Bad answers: %d\n", total_bad))
  if sample ~= "" then io.write("First bad answer: " .. string.gsub(sample, "\n", " ") .. "\n") end
end
"""


def lua_script(path: Path, token: str, payloads: list[bytes], tag: str,
               answered: Path) -> None:
    entries = ",\n".join(f"[==[{p.decode()}]==]" for p in payloads)
    path.write_text(LUA.replace("__TOKEN__", token).replace("__TAG__", tag)
                    .replace("__BODIES__", entries).replace("__ANSWERED__", str(answered)))


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
    bad = int(find(r"Bad answers: (\d+)").group(1))
    sample = re.search(r"First bad answer: (.*)", output)
    return Load(generator="wrk", requests=int(total.group(1)),
                seconds=_duration(total.group(2)),
                rps=float(find(r"Requests/sec:\s+([\d.]+)").group(1)),
                p50=_duration(find(r"(?m)^\s+50%\s+(\S+)\s*$").group(1)),
                p99=_duration(find(r"(?m)^\s+99%\s+(\S+)\s*$").group(1)), errors=errors,
                bad=bad, bad_sample=sample.group(1) if sample else "")


def run_wrk(port: int, token: str, payloads: list[bytes], seconds: int, tag: str,
            workdir: Path) -> Load:
    script, answered = workdir / f"{tag}.lua", workdir / f"{tag}.answered"
    lua_script(script, token, payloads, tag, answered)
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
               "--latency", "-s", str(script), f"http://127.0.0.1:{port}/graphql"]
    done = subprocess.run(command, capture_output=True, text=True,  # noqa: S603
                          timeout=seconds + 60, check=True)
    load = parse_wrk(done.stdout)
    load.answered = answered.read_text().split()
    return load


def answer_problem(status: int, body: bytes) -> str | None:
    """What is wrong with a B5 answer (the Lua script checks the same), or ``None``."""
    if status != 200:
        return f"status {status}"
    if b'"memberData"' not in body or b'"errors"' in body:
        return "a GraphQL error"
    if b"null" in body:
        return "a missing value"
    return None


def run_python(port: int, token: str, payloads: list[bytes], seconds: int, tag: str) -> Load:
    """The fallback generator: 50 connections from one asyncio loop (httpx); it stops
    sending at the deadline and waits for the answers in flight."""

    async def drive() -> Load:
        latencies: list[float] = []
        answered: list[str] = []
        errors = bad = 0
        sample = ""
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=CONNECTIONS,
                              max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                     timeout=10) as client:

            async def worker(offset: int) -> None:
                nonlocal errors, bad, sample
                n = 0
                while time.monotonic() < deadline:
                    n += 1
                    request_id = f"{tag}-{offset}-{n}"
                    started = time.perf_counter()
                    try:
                        response = await client.post(
                            "/graphql", content=payloads[(offset * 37 + n) % len(payloads)],
                            headers={"authorization": f"Bearer {token}",
                                     "content-type": "application/json",
                                     "x-request-id": request_id})
                    except httpx.HTTPError:
                        errors += 1
                        continue
                    latencies.append(time.perf_counter() - started)
                    problem = answer_problem(response.status_code, response.content)
                    if problem is None and response.headers.get("x-request-id") == request_id:
                        answered.append(request_id)
                    else:
                        bad += 1
                        sample = sample or f"{problem}: {response.content[:300]!r}"

            started = time.perf_counter()
            await asyncio.gather(*(worker(i + 1) for i in range(CONNECTIONS)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        return Load(generator="python (asyncio + httpx)", requests=len(latencies),
                    seconds=elapsed, rps=len(latencies) / elapsed,
                    p50=statistics.median(latencies),
                    p99=latencies[max(0, int(len(latencies) * 0.99) - 1)], errors=errors,
                    bad=bad, bad_sample=sample, answered=answered)

    return asyncio.run(drive())


# ---------------------------------------------------------------------------------------
# The access log against the answers


def _tail(bench: Bench) -> int:
    with bench.env.engine.connect() as connection:
        return int(connection.scalar(select(func.max(AccessLogEntry.sequence))) or 0)


def settle(bench: Bench, timeout: float = 15.0) -> int:
    """Wait until the log stops growing (requests in flight when a generator stopped are
    still being answered, and logged); returns the chain's last sequence."""
    deadline = time.monotonic() + timeout
    last = _tail(bench)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = _tail(bench)
        if now == last:
            return now
        last = now
    raise RuntimeError("the access log kept growing after the load stopped")


def logged_since(bench: Bench, sequence: int) -> list[str]:
    with bench.env.engine.connect() as connection:
        return list(connection.scalars(select(AccessLogEntry.request_id)
                                       .where(AccessLogEntry.sequence > sequence)))


def check_log_growth(side: str, answered: list[str], logged: list[str], *, tag: str,
                     in_flight: int) -> dict[str, int]:
    """Exactly one access-log entry per answered request. ``logged`` are the request ids
    of the entries written since the load started; besides the answered requests, only
    requests of this run (ids ``<tag>-<thread>-<n>``) still in flight when the generator
    stopped may appear, at most ``in_flight`` of them. Raises :class:`CheckFailed`."""
    counts = Counter(logged)
    twice = sorted(i for i, n in counts.items() if n > 1)
    if twice:
        raise CheckFailed(f"B5 {side}: {len(twice):,} requests have more than one access-log "
                          f"entry (e.g. {twice[0]})")
    expected = set(answered)
    if len(expected) != len(answered):
        raise CheckFailed(f"B5 {side}: the same request id was answered twice")
    missing = expected - counts.keys()
    if missing:
        raise CheckFailed(f"B5 {side}: {len(missing):,} of {len(expected):,} answered requests "
                          f"have no access-log entry (e.g. {min(missing)})")
    extra = [i for i in counts if i not in expected]
    ours = re.compile(re.escape(tag) + r"-\d+-\d+")
    foreign = [i for i in extra if not ours.fullmatch(i)]
    if foreign:
        raise CheckFailed(f"B5 {side}: {len(foreign):,} access-log entries for requests this "
                          f"run did not send (e.g. {foreign[0]})")
    if len(extra) > in_flight:
        raise CheckFailed(f"B5 {side}: {len(extra):,} access-log entries for requests never "
                          f"answered; at most {in_flight} can be in flight when the load stops")
    return {"answered": len(expected), "entries": len(logged), "in_flight_at_stop": len(extra)}


# ---------------------------------------------------------------------------------------
# The runs


def sample_answers(port: int, token: str, payloads: list[bytes], side: str,
                   ) -> list[dict[str, Any]]:
    """``memberData`` for a sample of members, one request at a time, checked."""
    answers = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for n, payload in enumerate(payloads):
            response = client.post("/graphql", content=payload, headers={
                "authorization": f"Bearer {token}", "content-type": "application/json",
                "x-request-id": f"b5-sample-{side}-{n:04d}"})
            problem = answer_problem(response.status_code, response.content)
            if problem is not None:
                raise CheckFailed(f"B5 {side}: {problem} in {response.content[:300]!r}")
            answers.append(response.json()["data"]["memberData"])
    return answers


def start(side: str, bench: Bench, port: int, workers: int,
          workdir: Path) -> subprocess.Popen[bytes]:
    with (workdir / f"{side}-{workers}.log").open("wb") as log:
        return _start(side, bench, port, workers, workdir, log)


def _start(side: str, bench: Bench, port: int, workers: int, workdir: Path,
           log: Any) -> subprocess.Popen[bytes]:
    if side == "service":
        env = {**os.environ,
               "MEMBERVAULT_DATABASE_URL": bench.env.url,
               "MEMBERVAULT_KEK_FILE": str(bench.env.keyring_file),
               "MEMBERVAULT_ISSUER": ISSUER,
               "MEMBERVAULT_MAILBOX_FILE": str(workdir / "mailbox.txt"),
               "MEMBERVAULT_EXPORT_DIR": str(workdir / "exports"),
               "PYTHONPATH": str(ROOT)}
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "membervault", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--workers", str(workers)], cwd=workdir, env=env,
            stdout=log, stderr=subprocess.STDOUT)
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bench.floor_app", "--url", bench.env.url, "--kek-file",
         str(bench.env.keyring_file), "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log, stderr=subprocess.STDOUT)


def measure(bench: Bench, side: str, workers: int, seconds: int, token: str,
            payloads: list[bytes], workdir: Path, use_wrk: bool) -> tuple[Load, list[Any]]:
    port = free_port()
    process = start(side, bench, port, workers, workdir)
    tag = f"b5-{side}-{workers}w"
    try:
        wait_ready(port, "/healthz", process, workdir / f"{side}-{workers}.log")
        answers = sample_answers(port, token, payloads[:SAMPLE], f"{side}-{workers}w")

        def generate(run: str, duration: int) -> Load:
            if use_wrk:
                return run_wrk(port, token, payloads, duration, run, workdir)
            return run_python(port, token, payloads, duration, run)

        warm = generate(f"{tag}-warm", 1)
        if warm.bad:
            raise CheckFailed(f"B5 {side}: {warm.bad} bad answers in the warm-up, e.g. "
                              f"{warm.bad_sample}")
        before = settle(bench)
        load = generate(tag, seconds)
        settle(bench)
        if load.bad:
            raise CheckFailed(f"B5 {side} ({workers} workers): {load.bad:,} of "
                              f"{load.requests:,} answers were not a memberData answer with "
                              f"values, e.g. {load.bad_sample}")
        load.log = check_log_growth(f"{side} ({workers} workers)", load.answered,
                                    logged_since(bench, before), tag=tag,
                                    in_flight=CONNECTIONS)
    finally:
        stop(process)
    return load, answers


def b5(bench: Bench, server: Server, seconds: int) -> list[Result]:
    token = bench.env.token("email-marketing")
    payloads = bodies(bench)
    workdir = Path(tempfile.mkdtemp(prefix="b5-", dir=bench.env.workdir))
    use_wrk = shutil.which("wrk") is not None
    results = []
    for workers in WORKERS:
        loads: dict[str, Load] = {}
        answers: dict[str, list[Any]] = {}
        for side in ("service", "floor"):
            loads[side], answers[side] = measure(bench, side, workers, seconds, token,
                                                 payloads, workdir, use_wrk)
            bench.say(f"  B5 {side}, {workers} worker(s): {loads[side].text()}; "
                      f"log {loads[side].log}")
        same_values(f"B5 ({workers} workers): floor vs service memberData", answers["floor"],
                    answers["service"])
        results.append(_result(loads["service"], loads["floor"], workers, seconds))
    with bench.env.services.db.unit_of_work() as uow:
        verified = verify(uow.session)
    if not verified.ok:
        raise CheckFailed(f"B5: the access log's chain does not verify after the load: "
                          f"{verified.problem} at {verified.first_broken_sequence}")
    for result in results:
        result.checked.append(f"afterwards the whole chain verifies ({verified.checked:,} "
                              "entries)")
    return results


def _result(service: Load, floor: Load, workers: int, seconds: int) -> Result:
    throughput = service.rps / floor.rps
    p99 = service.p99 / floor.p99
    ok = throughput >= 0.6 and p99 <= 3 and service.errors == 0
    plural = "worker" if workers == 1 else "workers"
    return Result(
        id="B5", variant=f"{workers} {plural}",
        what=f"single-profile `memberData` read, {CONNECTIONS} connections, {seconds} s, "
        f"{workers} uvicorn {plural} per side (real service) vs a raw ASGI app doing the "
        "same DB, consent, 3 decrypts and log insert",
        target=">= 0.6x req/s, p99 <= 3x, no errors",
        status="pass" if ok else "falls short", measured=service.text(), floor=floor.text(),
        ratio=throughput, ratio_text=f"{throughput:.2f}x (p99 {p99:.2f}x)", unit="req/s",
        details={"generator": service.generator, "workers": workers,
                 "throughput_ratio": throughput, "p99_ratio": p99,
                 "service": {k: v for k, v in service.__dict__.items() if k != "answered"},
                 "floor": {k: v for k, v in floor.__dict__.items() if k != "answered"}},
        note=f"load generator: {service.generator}; ratio = throughput; p99 ratio "
        f"{p99:.2f}x; the floor verifies no token",
        checked=[f"{SAMPLE} members' memberData values equal on both sides",
                 f"every answer under load checked: service {service.requests:,}, floor "
                 f"{floor.requests:,}, none with a GraphQL error or a missing value",
                 f"one access-log entry per answered request, by request id (service "
                 f"{service.log['answered']:,} answered, {service.log['entries']:,} entries "
                 f"incl. {service.log['in_flight_at_stop']} in flight at the stop; floor "
                 f"{floor.log['answered']:,}, {floor.log['entries']:,} incl. "
                 f"{floor.log['in_flight_at_stop']})"])
