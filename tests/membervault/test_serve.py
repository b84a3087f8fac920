"""What ``make run`` does, for real: migrate, load the demo, serve with uvicorn and the
worker beside it; the demo member signs in to the privacy centre and gets their data."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from membervault.demo import DEMO_EMAIL
from tests.conftest import BACKEND
from tests.membervault.observability.support import METRICS_TOKEN
from tests.membervault.web.support import CSRF, mailed_code

BIN = Path(sys.executable).parent / "membervault"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(BACKEND != "sqlite", reason="exercises the zero-set-up SQLite default")
def test_make_run_steps_serve_the_demo(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBERVAULT_")}
    env["MEMBERVAULT_ISSUER"] = f"http://127.0.0.1:{port}"
    env["MEMBERVAULT_METRICS_TOKEN"] = METRICS_TOKEN
    run = {"cwd": tmp_path, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([str(BIN), "db", "upgrade"], **run, timeout=60)  # type: ignore[call-overload]
    demo = subprocess.run([str(BIN), "demo", "--members", "5"], **run, timeout=60)  # type: ignore[call-overload]
    assert "/oauth/token" in demo.stderr
    assert f"sign in as {DEMO_EMAIL}" in demo.stderr and "var/mailbox.txt" in demo.stderr
    credentials = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert set(credentials) >= {"loyalty-engine", "demo-officer", "demo-admin"}

    server = subprocess.Popen([str(BIN), "serve", "--port", str(port), "--with-worker"],
                              cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=("demo-admin", credentials["demo-admin"])).json()["access_token"]
        result = httpx.post(f"{base}/graphql", headers={"authorization": f"Bearer {token}"},
                            json={"query": '{ member(email: "nobody@example.org", reason: "support ticket 4711") { id } }'})
        assert result.json() == {"data": {"member": None}}
        assert httpx.get(f"{base}/graphql", headers={"accept": "text/html"}).status_code == 200
        the_demo_member_gets_their_data(base, tmp_path / "var" / "mailbox.txt")
        the_workers_jobs_are_on_the_servers_metrics(base)
        the_demo_officer_signs_in_to_the_console(base, credentials["demo-officer"])
    finally:
        server.terminate()
        output = server.communicate(timeout=40)[0]
    assert "POST /graphql 200" in output
    assert f"privacy centre: http://127.0.0.1:{port}/privacy/" in output
    assert f"officer console: http://127.0.0.1:{port}/console/" in output
    worker = re.search(r"worker running \(pid (\d+)\)", output)
    assert worker, output
    with pytest.raises(ProcessLookupError):  # stopped with the server
        os.kill(int(worker.group(1)), 0)

    # Re-running keeps the existing data.
    subprocess.run([str(BIN), "demo", "--members", "5"], **run, timeout=60)  # type: ignore[call-overload]
    again = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert again == credentials


def the_demo_member_gets_their_data(base: str, mailbox: Path) -> None:
    """Sign in as the demo member, ask for a copy of the data, and download it once the
    worker (started by serve) has built it."""
    with httpx.Client(base_url=base) as browser:
        def token(page: httpx.Response) -> str:
            found = CSRF.search(page.text)
            assert found, page.text
            return found.group(1)

        csrf = token(browser.get("/privacy/"))
        browser.post("/privacy/sign-in", data={"csrf": csrf, "email": DEMO_EMAIL})
        deadline = time.monotonic() + 10
        while not mailbox.is_file():  # mailed after the answer
            assert time.monotonic() < deadline, "no sign-in code was mailed"
            time.sleep(0.1)
        signed_in = browser.post("/privacy/sign-in/code", data={
            "csrf": csrf, "email": DEMO_EMAIL, "code": mailed_code(mailbox)})
        assert signed_in.status_code == 303
        csrf = token(browser.get("/privacy/profile"))
        assert browser.post("/privacy/requests", data={"csrf": csrf, "type": "access"}
                            ).status_code == 303
        deadline = time.monotonic() + 30
        while "Download your data" not in (page := browser.get("/privacy/requests")).text:
            assert time.monotonic() < deadline, "the worker did not build the export"
            time.sleep(0.5)
        link = re.search(r'href="(/privacy/requests/[0-9a-f-]+/export)"', page.text)
        assert link
        download = browser.get(link.group(1))
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"


def the_workers_jobs_are_on_the_servers_metrics(base: str) -> None:
    """The worker beside the server writes its metrics where the server adds them up."""
    scraped = httpx.get(f"{base}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(scraped.text)
               for s in family.samples}
    assert samples[("membervault_worker_jobs_done_total",
                    frozenset({("step", "exports")}))] == 1
    assert ("membervault_graphql_requests_total", frozenset({
        ("operation", "anonymous"), ("type", "query"), ("outcome", "ok")})) in samples


def the_demo_officer_signs_in_to_the_console(base: str, secret: str) -> None:
    with httpx.Client(base_url=base) as browser:
        form = browser.get("/console/").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf, form
        signed = browser.post("/console/sign-in", data={
            "csrf": csrf.group(1), "client_id": "demo-officer", "client_secret": secret})
        assert signed.status_code == 303, signed.text
        assert "<h1>Requests</h1>" in browser.get("/console/requests").text
