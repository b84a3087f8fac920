"""The privacy centre in a real browser: Debian's Chromium, headless, driven by
Playwright against the app served by uvicorn; axe-core checks each page (WCAG 2.2 A/AA).

Without Chromium (``make browser`` installs it) these tests are skipped, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.web.support import mailed_code

CHROMIUM = Path("/usr/bin/chromium")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = "Debian's Chromium is not installed at /usr/bin/chromium (make browser)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; required under CI=true")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def served(app: Any) -> Iterator[str]:
    """The app on a free loopback port, in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def accessible(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA},
                                       "resultTypes": ["violations"]})
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def wait_for_code(mailbox: Path, after: int) -> str:
    deadline = time.monotonic() + 10
    while not mailbox.is_file() or len(mailbox.read_text()) <= after:
        assert time.monotonic() < deadline, "no code was mailed"
        time.sleep(0.05)
    return mailed_code(mailbox)


def test_a_member_signs_in_withdraws_a_consent_and_asks_for_their_data(
        chromium: Any, served: str, jane: dict[str, Any], mailbox: Path) -> None:
    page = chromium.new_page(locale="en-GB")
    page.goto(f"{served}/privacy/")
    accessible(page)
    page.get_by_label("Email address").fill(jane["email"])
    mailed = len(mailbox.read_text()) if mailbox.is_file() else 0
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Six-digit code").fill(wait_for_code(mailbox, mailed))
    accessible(page)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("heading", name="Your details").wait_for()
    assert jane["email"] in page.content()
    accessible(page)
    page.get_by_role("link", name="Correct your details").click()
    page.get_by_role("heading", name="Correct your details").wait_for()
    accessible(page)

    page.get_by_role("navigation").get_by_role("link", name="Your choices").click()
    marketing = page.locator("section", has=page.get_by_role("heading",
                                                              name="Offers by email"))
    marketing.get_by_role("button", name="Give consent").click()
    page.get_by_text("Thank you: your consent is recorded.").wait_for()
    marketing.get_by_role("button", name="Withdraw consent").click()
    page.get_by_text("Your consent is withdrawn.").wait_for()
    assert marketing.get_by_text("You said no.").is_visible()
    accessible(page)

    page.get_by_role("link", name="Your requests").click()
    page.get_by_role("button", name="Ask for a copy of your data").click()
    page.get_by_text("Your request is open.").wait_for()
    row = page.get_by_role("row", name="A copy of your data")
    assert "In progress" in row.inner_text()
    accessible(page)

    for name, heading in (("Who read your data", "Who read your data"),
                          ("Consent receipts", "Consent receipts")):
        page.get_by_role("link", name=name).click()
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        accessible(page)
    assert "Offers by email" in page.content()


def test_the_pages_speak_the_browsers_language(chromium: Any, served: str) -> None:
    page = chromium.new_page(locale="sv-SE")
    page.goto(f"{served}/privacy/")
    assert page.locator("html").get_attribute("lang") == "sv"
    page.get_by_role("button", name="Skicka en kod").wait_for()
    accessible(page)
