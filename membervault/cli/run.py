"""Serving the API, the background worker and the demo."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from membervault import worker as background
from membervault.cli.context import console, fail, open_services, read_settings
from membervault.demo import CREDENTIALS, load_demo
from membervault.services import ensure_signing_key
from vaultkernel.logs import configure_logging


def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
          workers: Annotated[int | None, typer.Option(min=1)] = None) -> None:
    """Serve the API (GraphQL at /graphql) with uvicorn."""
    import uvicorn

    settings = read_settings()
    host = host or settings.host
    port = port or settings.port
    services = open_services()  # fail fast on keys, policy and database before binding
    ensure_signing_key(services)
    services.close()
    _check_listen(host, port)
    configure_logging(log_format=settings.effective_log_format)
    console.print(f"membervault serving on http://{host}:{port} (GraphQL at /graphql)")
    uvicorn.run("membervault.asgi:app", host=host, port=port,
                workers=workers or settings.workers, access_log=False, log_config=None,
                proxy_headers=bool(settings.forwarded_allow_ips),
                forwarded_allow_ips=settings.forwarded_allow_ips or None)


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
           interval: Annotated[float, typer.Option(help="seconds between passes")] = 2.0) -> None:
    """Run the background worker: exports, erasures, webhook deliveries, expiries."""
    services = open_services()
    ensure_signing_key(services)
    configure_logging(log_format=services.settings.effective_log_format)
    if once:
        done = background.run_once(services)
        console.print(", ".join(f"{k}={v}" for k, v in done.items()))
        return
    background.run_forever(services, interval)


def demo(members_count: Annotated[int, typer.Option("--members")] = 300) -> None:
    """Load the demo clients, staff and synthetic members (development only)."""
    services = open_services()
    if services.settings.production:
        raise fail("the demo is for development mode only")
    ensure_signing_key(services)
    credentials = load_demo(services, members_count)
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
    services.close()

