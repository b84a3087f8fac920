"""Serving the API, the background worker and the demo."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Annotated

import typer
from rich.markup import escape

from membervault import worker as background
from membervault.cli.context import console, fail, open_services, read_settings
from membervault.cli.output import camel, emit_json, line
from membervault.cli.progress import progress_bar
from membervault.demo import CREDENTIALS, DEMO_EMAIL, load_demo
from membervault.observability import metrics, worker_metrics
from membervault.observability.wiring import observe
from membervault.services import ensure_signing_key
from vaultkernel.logs import configure_logging

WORKER_STOP_WAIT = 30  # seconds a worker gets to finish its pass when the server stops


def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
          workers: Annotated[int | None, typer.Option(min=1)] = None,
          with_worker: Annotated[bool, typer.Option(
              "--with-worker", help="also run the background worker, as a second process "
              "started and stopped with the server")] = False) -> None:
    """Serve the API (GraphQL at /graphql) and the privacy centre (/privacy/) with
    uvicorn."""
    import uvicorn

    settings = read_settings()
    host = host or settings.host
    port = port or settings.port
    services = open_services()  # fail fast on keys, policy and database before binding
    ensure_signing_key(services)
    services.close()
    _check_listen(host, port)
    configure_logging(log_format=settings.effective_log_format)
    base = f"http://{host}:{port}"
    console.print(f"membervault serving on {base} (GraphQL at /graphql)")
    console.print(f"privacy centre: {base}/privacy/")
    console.print(f"officer console: {base}/console/")
    # uvicorn re-raises the SIGTERM it shut down on with the handler it found: make that
    # an exit that unwinds (and so stops the worker) rather than the default sudden death.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    processes = workers or settings.workers
    # Several uvicorn workers, and the worker beside them, add their metrics up in files
    # (docs/operations.md).
    shared = (metrics.shared_by_processes(settings.metrics_dir, server_processes=processes)
              if processes > 1 or with_worker else contextlib.nullcontext())
    with shared:
        worker_process = _start_worker() if with_worker else None
        try:
            uvicorn.run("membervault.asgi:app", host=host, port=port, workers=processes,
                        access_log=False, log_config=None,
                        proxy_headers=bool(settings.forwarded_allow_ips),
                        forwarded_allow_ips=settings.forwarded_allow_ips or None)
        finally:
            if worker_process is not None:
                _stop_worker(worker_process)


def _start_worker() -> subprocess.Popen[bytes]:
    """``membervault worker`` beside the server, in its own session (so Ctrl-C reaches
    the server only, which then stops the worker) and told to end with its parent. It
    gets the metrics directory, not the server's multiprocess mode (its files go apart)."""
    process = subprocess.Popen(  # noqa: S603  (our own command, no shell)
        [sys.executable, "-m", "membervault", "worker", "--parent", str(os.getpid())],
        start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != metrics.MULTIPROCESS_ENV})
    console.print(f"worker running (pid {process.pid}); it stops with the server")
    return process


def _stop_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM: the worker ends after the pass in hand; killed if it takes too long."""
    process.terminate()
    try:
        process.wait(WORKER_STOP_WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _check_listen(host: str, port: int) -> None:
    """Refuse a port in use (or a host that is not ours) in one line, before uvicorn."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        console.print(f"[red]cannot start:[/red] cannot listen on {host}:{port}: "
                      f"{exc.strerror or type(exc).__name__}")
        raise typer.Exit(2) from None


def worker(once: Annotated[bool, typer.Option(help="one pass, then exit")] = False,
           interval: Annotated[float, typer.Option(help="seconds between passes")] = 2.0,
           parent: Annotated[int | None, typer.Option(
               hidden=True, help="stop when this process is gone")] = None,
           as_json: Annotated[bool, typer.Option(
               "--json", help="with --once: what the pass did as one JSON document")] = False,
           ) -> None:
    """Run the background worker: exports, erasures, webhook deliveries, expiries.
    SIGTERM or SIGINT stops it after the pass in hand."""
    if as_json and not once:
        raise fail("--json goes with --once (a running worker reports in its log)")
    services = open_services()
    ensure_signing_key(services)
    if services.settings.metrics_dir:  # served by the server's /metrics
        try:
            worker_metrics.record_in(services.settings.metrics_dir)
        except OSError as exc:
            console.print(f"[red]cannot start:[/red] metrics directory "
                          f"{escape(services.settings.metrics_dir)}: "
                          f"{exc.strerror or type(exc).__name__}")
            raise typer.Exit(2) from None
    configure_logging(log_format=services.settings.effective_log_format)
    observe(services, "worker", observer=worker_metrics.observe)
    if once:
        done = background.run_once(services)
        if as_json:
            emit_json({"done": {camel(kind): count for kind, count in done.items()}})
        else:
            line(", ".join(f"{kind}={count}" for kind, count in done.items()))
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    background.run_forever(services, interval, stop=stop,
                           orphaned=(lambda: os.getppid() != parent) if parent else None)


def demo(members_count: Annotated[int, typer.Option("--members")] = 300) -> None:
    """Load the demo clients, staff and synthetic members (development only)."""
    services = open_services()
    if services.settings.production:
        raise fail("the demo is for development mode only")
    ensure_signing_key(services)
    with progress_bar("enrolling demo members") as advance:
        credentials = load_demo(services, members_count, progress=advance)
    issuer = services.settings.issuer
    console.print(f"demo ready: {len(credentials)} principals, credentials in {CREDENTIALS}")
    console.print("client token:  curl -s -u loyalty-engine:$(python3 -c \"import json;"
                  f"print(json.load(open('{CREDENTIALS}'))['loyalty-engine'])\") "
                  f"-d grant_type=client_credentials {issuer}/oauth/token")
    console.print("               or: .venv/bin/membervault token --client loyalty-engine")
    console.print(f"member token:  curl -s -H 'content-type: application/json' -d "
                  f"'{{\"email\": \"<email>\"}}' {issuer}/auth/member/code   "
                  f"(code lands in {services.settings.mailbox_file})")
    console.print("               or: .venv/bin/membervault token --member <member number>")
    console.print(f"privacy centre: {issuer}/privacy/  sign in as {DEMO_EMAIL}; the code "
                  f"lands in {services.settings.mailbox_file}")
    console.print(f"officer console: {issuer}/console/  sign in as demo-officer with its "
                  f"secret in {CREDENTIALS}")
    services.close()

