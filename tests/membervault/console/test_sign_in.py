"""Officers sign in with their client credentials; nobody else reaches the console."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from membervault.services import Services
from tests.conftest import create_principal
from tests.membervault.console.conftest import OFFICER
from tests.membervault.console.support import Officer
from tests.membervault.web.support import Visitor
from vaultkernel.clock import OffsetClock


def test_an_officer_signs_in_and_sees_the_queue(officers: Callable[[], Officer],
                                                officer_secret: str) -> None:
    officer = officers()
    answer = officer.sign_in(OFFICER, officer_secret)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/requests"
    page = officer.follow(answer)
    assert page.status_code == 200
    assert "<h1>Requests</h1>" in page.text and f"Signed in as {OFFICER}" in page.text
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("console=") and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_a_wrong_secret_is_refused(officers: Callable[[], Officer],
                                   officer_secret: str) -> None:
    officer = officers()
    answer = officer.sign_in(OFFICER, officer_secret[:-2] + "xx")
    assert answer.status_code == 401
    assert "The id or the secret is wrong" in answer.text
    assert officer.get("/console/requests").status_code == 303


def test_a_client_or_an_admin_is_not_an_officer(officers: Callable[[], Officer],
                                                services: Services) -> None:
    for client_id, role in (("loyalty-engine", "client"), ("ops", "admin")):
        secret = create_principal(services, client_id, role,
                                  purposes=("loyalty.membership",) if role == "client" else ())
        officer = officers()
        answer = officer.sign_in(client_id, secret)
        assert answer.status_code == 403, answer.text
        assert "not an officer" in answer.text
        refused = officer.get("/console/requests")
        assert refused.status_code == 303 and refused.headers["location"] == "/console/"


def test_a_members_session_does_not_reach_the_console(jane_web: Visitor) -> None:
    for path in ("/console/requests",):
        answer = jane_web.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/"


def test_the_console_cookie_does_not_open_the_privacy_centre(officer_web: Officer) -> None:
    answer = officer_web.get("/privacy/profile")
    assert answer.status_code == 303 and answer.headers["location"] == "/privacy/"


def test_a_disabled_officer_is_out_at_once(officer_web: Officer, services: Services) -> None:
    from identity import clients

    with services.db.unit_of_work() as uow:
        clients.set_active(uow.session, OFFICER, False, actor="test")
        uow.commit()
    services.registrations.forget(OFFICER)
    assert officer_web.get("/console/requests").status_code == 303


def test_the_session_ends_with_the_token_it_was_opened_with(officer_web: Officer,
                                                            clock: OffsetClock,
                                                            services: Services) -> None:
    for _ in range(3):  # within the idle limit each time, until the token's lifetime
        assert officer_web.get("/console/requests").status_code == 200
        clock.advance(dt.timedelta(seconds=services.settings.client_token_ttl // 3 + 1))
    assert officer_web.get("/console/requests").status_code == 303


def test_sign_out_ends_the_session(officer_web: Officer) -> None:
    answer = officer_web.post("/console/sign-out")
    assert answer.status_code == 303
    assert "signed out" in officer_web.follow(answer).text
    assert officer_web.get("/console/requests").status_code == 303


def test_the_secret_is_in_no_url_and_no_log(officers: Callable[[], Officer],
                                            officer_secret: str,
                                            server_log: Callable[[str], Any]) -> None:
    log = server_log("json")
    officer = officers()
    officer.follow(officer.sign_in(OFFICER, officer_secret))
    assert officer_secret not in log.text()
    assert all(officer_secret not in location for location in officer.locations)
