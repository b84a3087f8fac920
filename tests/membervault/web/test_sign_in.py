"""Signing in to the privacy centre with an email and a one-time code; the session
cookie and its limits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from membervault.app import create_app
from membervault.services import Services
from membervault.web import sessions
from tests.conftest import HTTPS_ISSUER
from tests.membervault.web.support import Visitor
from vaultkernel.clock import OffsetClock
from vaultkernel.settings import Settings


def test_a_member_signs_in_with_the_code_from_the_mailbox(visitor: Visitor,
                                                          jane: dict[str, Any],
                                                          mailbox: Path) -> None:
    assert "Sign in to your privacy centre" in visitor.get("/privacy/").text
    asked = visitor.post("/privacy/sign-in", {"email": jane["email"]})
    assert "six-digit code is on its way" in asked.text
    done = visitor.post("/privacy/sign-in/code", {"email": jane["email"],
                                                  "code": Path(mailbox).read_text().rsplit(
                                                      "Your sign-in code is ", 1)[1][:6]})
    assert done.status_code == 303
    assert done.headers["location"] == "/privacy/profile"
    page = visitor.follow(done)
    assert page.status_code == 200
    assert jane["email"] in page.text and "Sign out" in page.text


def test_the_root_leads_to_the_privacy_centre(visitor: Visitor) -> None:
    response = visitor.get("/")
    assert response.status_code == 307 and response.headers["location"] == "/privacy/"


def test_the_session_cookie_is_httponly_samesite_and_pathed(visitor: Visitor,
                                                            jane: dict[str, Any],
                                                            mailbox: Path) -> None:
    cookie = visitor.sign_in(jane["email"], mailbox).headers["set-cookie"]
    assert cookie.startswith("privacy=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert f"max-age={sessions.IDLE}" in flags
    assert "secure" not in flags  # served over http in development


def test_over_https_the_cookie_is_secure_and_host_only(settings: Settings,
                                                       services: Services,
                                                       jane: dict[str, Any],
                                                       mailbox: Path) -> None:
    app = create_app(settings.replace(issuer=HTTPS_ISSUER), services)
    visitor = Visitor(app, base_url="https://members.example.com")
    try:
        cookie = visitor.get("/privacy/").headers["set-cookie"]
    finally:
        visitor.close()
    assert cookie.startswith("__Host-privacy=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= flags
    assert not any(f.startswith("domain=") for f in flags)


def test_a_wrong_code_signs_nobody_in(visitor: Visitor, jane: dict[str, Any]) -> None:
    visitor.get("/privacy/")
    visitor.post("/privacy/sign-in", {"email": jane["email"]})
    refused = visitor.post("/privacy/sign-in/code", {"email": jane["email"], "code": "000000"})
    assert refused.status_code == 400
    assert "That code is wrong, used or expired" in refused.text
    assert visitor.get("/privacy/profile").headers["location"] == "/privacy/"


def test_a_stranger_gets_the_same_answer_and_no_mail(visitor: Visitor, jane: dict[str, Any],
                                                     mailbox: Path) -> None:
    visitor.get("/privacy/")
    known = visitor.post("/privacy/sign-in", {"email": jane["email"]})
    mails = mailbox.read_text()
    unknown = visitor.post("/privacy/sign-in", {"email": "nobody@example.org"})
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace("nobody@example.org", "X") == known.text.replace(
        jane["email"], "X")
    assert mailbox.read_text() == mails


def test_no_personal_value_travels_in_a_web_address(jane_web: Visitor,
                                                    jane: dict[str, Any]) -> None:
    for path in ("/privacy/profile", "/privacy/profile/edit", "/privacy/requests"):
        jane_web.get(path)
    jane_web.post("/privacy/consents", {"action": "withdraw", "purpose": "marketing.email"})
    assert jane_web.locations
    for location in jane_web.locations:
        assert "@" not in location and jane["memberNumber"] not in location


def test_signing_out_ends_the_session(jane_web: Visitor) -> None:
    out = jane_web.post("/privacy/sign-out")
    assert out.headers["location"] == "/privacy/"
    assert "You are signed out." in jane_web.follow(out).text
    assert jane_web.get("/privacy/profile").status_code == 303


def test_a_session_ends_when_idle_and_after_its_lifetime(jane_web: Visitor,
                                                         services: Services) -> None:
    clock = services.clock
    assert isinstance(clock, OffsetClock)
    clock.offset += dt.timedelta(seconds=sessions.IDLE - 30)
    assert jane_web.get("/privacy/profile").status_code == 200
    # each request within the idle time keeps it alive, up to its lifetime
    steps = sessions.LIFETIME // (sessions.IDLE - 60)
    for _ in range(steps):
        clock.offset += dt.timedelta(seconds=sessions.IDLE - 60)
        if jane_web.get("/privacy/consents").status_code != 200:
            break
    else:
        raise AssertionError("the session outlived its lifetime")
    assert jane_web.get("/privacy/profile").headers["location"] == "/privacy/"


def test_an_idle_session_is_refused(jane_web: Visitor, services: Services) -> None:
    assert isinstance(services.clock, OffsetClock)
    services.clock.offset += dt.timedelta(seconds=sessions.IDLE + 1)
    assert jane_web.get("/privacy/profile").headers["location"] == "/privacy/"


def test_a_forged_cookie_is_refused(visitor: Visitor, jane: dict[str, Any]) -> None:
    import base64
    import json

    forged = base64.b64encode(json.dumps({"member": jane["id"], "since": 2**40,
                                          "seen": 2**40}).encode()).decode()
    visitor.http.cookies.set("privacy", f"{forged}.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert visitor.get("/privacy/profile").headers["location"] == "/privacy/"
