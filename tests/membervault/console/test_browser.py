"""The console in a real browser (Debian's Chromium, headless, Playwright, the app served
by uvicorn): an officer signs in, finds a member's access request, sees it overdue after
a clock change, and reads the access log; axe-core finds no WCAG 2.2 A/AA violation on
any console page, and none scrolls sideways as a whole at phone width (390 px); with
``MEMBERVAULT_SCREENSHOTS`` (``make screenshots``) each is photographed as
``console-<page>-{desktop,phone}.png``. Skipped without Chromium, failed under ``CI=true`` (as tests/membervault/web)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from membervault.services import Services
from subject_requests.models import DataSubjectRequest
from tests.membervault.console.conftest import OFFICER, open_request
from tests.membervault.web.test_browser import (  # noqa: F401  (fixtures)
    DESKTOP,
    accessible,
    chromium,
    served,
    visited,
)
from vaultkernel.clock import OffsetClock


def sign_in(page: Any, secret: str) -> None:
    page.get_by_label("Officer id").fill(OFFICER)
    page.get_by_label("Secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Requests", exact=True).wait_for()


def test_an_officer_finds_a_request_sees_it_overdue_and_reads_the_access_log(
        chromium: Any, served: str, services: Services, clock: OffsetClock,  # noqa: F811
        jane: dict[str, Any], officer_secret: str) -> None:
    request_id = open_request(services, jane["id"])
    page = chromium.new_page(locale="en-GB", viewport=DESKTOP)
    page.goto(f"{served}/console/")
    visited(page, "console-sign-in")
    sign_in(page, officer_secret)
    visited(page, "console-queue")

    page.get_by_label("Member id").fill(jane["id"])
    page.get_by_role("button", name="Show").click()
    row = page.get_by_role("row", name="Access (a copy of the data)")
    assert "In progress" in row.inner_text() and "Overdue" not in row.inner_text()
    row.get_by_role("link", name="Access (a copy of the data)").click()
    page.get_by_role("heading", name="Access (a copy of the data)").wait_for()
    assert str(request_id) in page.content()
    visited(page, "console-request")
    page.get_by_role("link", name="consents").click()
    page.get_by_role("heading", name="Consent history").wait_for()
    visited(page, "console-member-consents")
    page.get_by_role("link", name="Legal holds").click()
    page.get_by_role("heading", name="Legal holds", exact=True).wait_for()
    visited(page, "console-member-holds")

    with services.db.unit_of_work() as uow:
        due = uow.session.get_one(DataSubjectRequest, request_id).due_at
    clock.advance(due - clock.now() + dt.timedelta(days=1))  # the deadline has passed
    page.get_by_role("link", name="Requests", exact=True).first.click()
    page.get_by_text("Please sign in as an officer to continue.").wait_for()  # days later
    sign_in(page, officer_secret)
    page.get_by_role("link", name="Overdue", exact=True).click()
    overdue = page.get_by_role("row", name="Access (a copy of the data)")
    assert "Overdue" in overdue.inner_text() and jane["id"] in overdue.inner_text()
    accessible(page)

    page.get_by_role("navigation", name="Officer console").get_by_role(
        "link", name="Access log").click()
    page.get_by_role("heading", name="Access log").wait_for()
    page.get_by_label("Reader").fill(f"officer:{OFFICER}")
    page.get_by_role("button", name="Filter").click()
    reads = page.get_by_role("row").filter(has_text="compliance")
    assert reads.count() == 2  # the consent history and the legal holds, both Jane's
    assert jane["id"] in reads.first.inner_text() and jane["email"] not in page.content()
    visited(page, "console-access-log")
    page.get_by_role("link", name="Verify the log's hash chain").click()
    page.get_by_text("Intact:").wait_for()
    visited(page, "console-access-log-verified")

    for name, photo in (("Deliveries", "deliveries"), ("A member", "member"),
                        ("Record of processing", "record-of-processing"),
                        ("Retention", "retention")):
        page.get_by_role("navigation", name="Officer console").get_by_role(
            "link", name=name).click()
        page.get_by_role("heading", name=name, exact=True).wait_for()
        visited(page, f"console-{photo}")


def test_the_console_speaks_the_browsers_language(chromium: Any, served: str,  # noqa: F811
                                                  officer_secret: str) -> None:
    page = chromium.new_page(locale="bg-BG")
    page.goto(f"{served}/console/")
    assert page.locator("html").get_attribute("lang") == "bg"
    page.get_by_role("button", name="Вход").wait_for()
    accessible(page)
