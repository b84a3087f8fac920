"""What ``make run`` does, for real: migrate, load the demo, serve with uvicorn."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND

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
    run = {"cwd": tmp_path, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([str(BIN), "db", "upgrade"], **run, timeout=60)  # type: ignore[call-overload]
    demo = subprocess.run([str(BIN), "demo", "--members", "5"], **run, timeout=60)  # type: ignore[call-overload]
    assert "/oauth/token" in demo.stderr
    credentials = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert set(credentials) >= {"loyalty-engine", "demo-officer", "demo-admin"}

    server = subprocess.Popen([str(BIN), "serve", "--port", str(port)], cwd=tmp_path, env=env,
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
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "POST /graphql 200" in output

    # Re-running keeps the existing data.
    subprocess.run([str(BIN), "demo", "--members", "5"], **run, timeout=60)  # type: ignore[call-overload]
    again = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert again == credentials
