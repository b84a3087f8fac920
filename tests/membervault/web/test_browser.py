"""The privacy centre in a real browser: Debian's Chromium, headless, driven by
Playwright against the app served by uvicorn; axe-core checks each page (WCAG 2.2 A/AA).

Without Chromium (``make browser`` installs it) these tests are skipped, except under
``CI=true``, where they fail. With ``MEMBERVAULT_SCREENSHOTS=<directory>`` (``make
screenshots``: ``docs/screenshots``) each page visited is also photographed at desktop
(1280 px) and phone (390 px) width, as ``<page>-desktop.png`` and ``<page>-phone.png``;
the console's walk (tests/membervault/console/test_browser.py) adds ``console-<page>-*.png``. Every
page visited must not scroll sideways as a whole at phone width.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from membervault.services import Services
from subject_requests import access
from tests.membervault.web.support import mailed_code
from vaultkernel.clock import utcnow

CHROMIUM = Path("/usr/bin/chromium")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = os.environ.get("MEMBERVAULT_SCREENSHOTS")
TALLEST = 2400  # px: a longer page is photographed from its top down to here


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


# How far the whole page scrolls sideways (a wide table scrolls inside its own box)
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def visited(page: Any, name: str) -> None:
    """A page the member or officer sees: checked with axe, usable at phone width (no
    sideways scrolling of the whole page), and photographed when asked to."""
    accessible(page)
    page.set_viewport_size(PHONE)
    assert page.evaluate(OVERFLOW) <= 0, f"{page.url} scrolls sideways at phone width"
    if SCREENSHOTS:
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        for width, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(size)
            height = min(page.evaluate("document.documentElement.scrollHeight"), TALLEST)
            page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True,
                            clip={"x": 0, "y": 0, "width": size["width"], "height": height})
    page.set_viewport_size(DESKTOP)


def wait_for_code(mailbox: Path, after: int) -> str:
    deadline = time.monotonic() + 10
    while not mailbox.is_file() or len(mailbox.read_text()) <= after:
        assert time.monotonic() < deadline, "no code was mailed"
        time.sleep(0.05)
    return mailed_code(mailbox)


def sign_in(page: Any, served: str, email: str, mailbox: Path) -> None:
    page.goto(f"{served}/privacy/")
    visited(page, "sign-in")
    page.get_by_label("Email address").fill(email)
    mailed = len(mailbox.read_text()) if mailbox.is_file() else 0
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Six-digit code").fill(wait_for_code(mailbox, mailed))
    visited(page, "code")
    page.get_by_role("button", name="Sign in").click()


def test_a_member_signs_in_withdraws_a_consent_downloads_their_data_and_asks_for_erasure(
        chromium: Any, served: str, jane: dict[str, Any], mailbox: Path,
        services: Services) -> None:
    page = chromium.new_page(locale="en-GB", viewport=DESKTOP)
    sign_in(page, served, jane["email"], mailbox)

    page.get_by_role("heading", name="Your details").wait_for()
    assert jane["email"] in page.content()
    visited(page, "profile")
    page.get_by_role("link", name="Correct your details").click()
    page.get_by_role("heading", name="Correct your details").wait_for()
    visited(page, "profile-edit")

    page.get_by_role("navigation").get_by_role("link", name="Your choices").click()
    marketing = page.locator("section", has=page.get_by_role("heading",
                                                              name="Offers by email"))
    marketing.get_by_role("button", name="Give consent").click()
    page.get_by_text("Thank you: your consent is recorded.").wait_for()
    marketing.get_by_role("button", name="Withdraw consent").click()
    page.get_by_text("Your consent is withdrawn.").wait_for()
    assert marketing.get_by_text("You said no.").is_visible()
    visited(page, "consents")

    page.get_by_role("link", name="Your requests").click()
    page.get_by_role("button", name="Ask for a copy of your data").click()
    page.get_by_text("Your request is open.").wait_for()
    row = page.get_by_role("row", name="A copy of your data")
    assert "In progress" in row.inner_text()
    accessible(page)
    # What the worker does: build the archive of every pending access request.
    assert access.build_pending_exports(services.db, services.exports, now=utcnow()) == 1
    page.reload()
    assert "Done" in row.inner_text()
    with page.expect_download() as downloading:
        row.get_by_role("link", name="Download your data").click()
    archive = zipfile.ZipFile(downloading.value.path())
    assert {"member.json", "summary.md"} <= set(archive.namelist())
    assert jane["email"] in archive.read("member.json").decode()
    visited(page, "requests")

    for name, heading, shot in (("Who read your data", "Who read your data", "access-log"),
                                ("Consent receipts", "Consent receipts", "receipts")):
        page.get_by_role("link", name=name).click()
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        visited(page, shot)
    assert "Offers by email" in page.content()
    page.get_by_role("link", name="See the receipt").first.click()
    page.get_by_role("heading", name="Consent receipt").wait_for()
    visited(page, "receipt")

    page.get_by_role("link", name="Your requests").click()
    erasure = page.locator("#erasure")
    erasure.get_by_label("I understand that my membership ends").check()
    erasure.get_by_role("button", name="Erase my data").click()
    page.get_by_text("Your request is open.").wait_for()
    assert "Erase your data" in page.get_by_role("table").inner_text()
    accessible(page)


def test_the_pages_speak_the_browsers_language_or_the_one_chosen(
        chromium: Any, served: str, jane: dict[str, Any], mailbox: Path) -> None:
    page = chromium.new_page(locale="sv-SE")
    page.goto(f"{served}/privacy/")
    assert page.locator("html").get_attribute("lang") == "sv"
    page.get_by_role("button", name="Skicka en kod").wait_for()
    accessible(page)
    page.get_by_role("button", name="Български").click()
    page.get_by_role("button", name="Изпратете ми код").wait_for()
    assert page.locator("html").get_attribute("lang") == "bg"
    page.get_by_label("Имейл адрес").fill(jane["email"])
    mailed = len(mailbox.read_text()) if mailbox.is_file() else 0
    page.get_by_role("button", name="Изпратете ми код").click()
    page.get_by_role("textbox").last.fill(wait_for_code(mailbox, mailed))
    page.locator("main").get_by_role("button").last.click()
    page.get_by_role("heading", name="Вашите данни").wait_for()
    page.get_by_role("navigation").get_by_role("link").nth(1).click()
    page.get_by_role("heading", name="Оферти по имейл").wait_for()
    accessible(page)


def test_the_privacy_notice_is_accessible_in_each_language(chromium: Any,
                                                           served: str) -> None:
    page = chromium.new_page(locale="sv-SE", viewport=DESKTOP)
    page.goto(f"{served}/policy")
    assert page.locator("html").get_attribute("lang") == "sv"
    page.get_by_role("heading", name="Erbjudanden via e-post").wait_for()
    visited(page, "policy-sv")
    page.get_by_role("link", name="en", exact=True).click()
    page.get_by_role("heading", name="Offers by email").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    visited(page, "policy")
