"""GraphiQL in a real browser (Debian's Chromium): it renders from the app's own assets
under the page's content security policy, signs in with a client id and secret at the
token endpoint and runs an operation with the token it got."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.conftest import create_principal
from tests.membervault.web.test_browser import chromium, served

__all__ = ["chromium", "served"]


def test_graphiql_signs_in_and_runs_an_operation(chromium: Any, served: str,
                                                  services: Any) -> None:
    secret = create_principal(services, "graphiql-officer", "officer")
    page = chromium.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(served) else None)
    page.goto(f"{served}/graphql")
    page.wait_for_selector(".graphiql-container", timeout=20000)
    page.fill("input[name=client_id]", "graphiql-officer")
    page.fill("input[name=client_secret]", secret)
    page.click("#sign-in button[type=submit]")
    # A locator's wait, not wait_for_function: polling a string expression is an eval,
    # which the page's content security policy refuses.
    expect(page.locator("#sign-in-status")).to_have_text(re.compile(r"^Signed in"),
                                                         timeout=10000)
    with page.expect_response(lambda r: r.url.endswith("/graphql")
                              and r.request.method == "POST"
                              and "verifyAccessLog" in (r.request.post_data or "")) as answer:
        page.evaluate("""() => { const editor = document.querySelector(
            '.graphiql-query-editor .CodeMirror').CodeMirror;
            editor.setValue('query VerifyAccessLog { verifyAccessLog { ok checked } }'); }""")
        page.click(".graphiql-execute-button")
    assert answer.value.json()["data"]["verifyAccessLog"]["ok"] is True
    assert answer.value.request.headers["authorization"].startswith("Bearer ")
    assert outside == []
    assert not [p for p in problems if "Content Security Policy" in p], problems
