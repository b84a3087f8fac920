"""Every route of the console, by structure: nobody but a signed-in officer reaches a
page or a form (anonymous visitors, members' sessions, clients and admins are refused,
and so are principals who were officers and are disabled), every POST needs the
session's CSRF token and our origin, every answer is no-store and scriptless, and no
route takes a personal value in its path."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from starlette.routing import Mount, Route

from membervault.services import Services
from membervault.web import headers
from tests.conftest import ServerLog, create_principal
from tests.membervault.console.conftest import OFFICER
from tests.membervault.console.support import Officer
from tests.membervault.web.support import Visitor

PUBLIC = {("GET", "/console/"), ("POST", "/console/sign-in"), ("POST", "/console/sign-out")}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Every path parameter is an opaque internal id: a UUID or a delivery's number.
OPAQUE = {"request_id", "member_id", "receipt_id", "hold_id", "delivery_id"}


def console_routes(app: Any) -> list[tuple[str, str]]:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/console")
    return [(method, "/console" + r.path) for r in mount.routes if isinstance(r, Route)
            for method in sorted(r.methods or ()) if method != "HEAD"]


def concrete(path: str) -> str:
    return PLACEHOLDER.sub(lambda m: "1" if m.group(1) == "delivery_id" else str(uuid.uuid4()),
                           path)


def guarded(app: Any) -> list[tuple[str, str]]:
    return [route for route in console_routes(app) if route not in PUBLIC]


def test_the_console_has_these_routes(app: Any) -> None:
    routes = console_routes(app)
    assert len(guarded(app)) == 19
    assert {name for _, path in routes for name in PLACEHOLDER.findall(path)} <= OPAQUE


def answer(visitor: Visitor, method: str, path: str) -> Any:
    if method == "GET":
        return visitor.get(concrete(path))
    return visitor.post(concrete(path), {"reason": "Case 7", "method": "Passport seen",
                                         "code": "EXCESSIVE", "member": str(uuid.uuid4())})


@pytest.mark.parametrize("who", ["anonymous", "member", "client", "admin",
                                 "disabled officer"])
def test_only_an_officer_reaches_a_route(app: Any, who: str, services: Services,
                                         officers: Callable[[], Officer],
                                         jane_web: Visitor, officer_secret: str) -> None:
    visitor: Visitor
    if who == "member":
        visitor = jane_web
        visitor.get("/console/")  # a console session of its own, with a CSRF token
    else:
        visitor = officers()
        if who in ("client", "admin"):
            secret = create_principal(services, f"some-{who}", who,
                                      purposes=("loyalty.membership",) if who == "client"
                                      else ())
            assert visitor.sign_in(f"some-{who}", secret).status_code == 403
        elif who == "disabled officer":
            from identity import clients

            visitor.follow(visitor.sign_in("dpo-office", officer_secret))
            with services.db.unit_of_work() as uow:
                clients.set_active(uow.session, "dpo-office", False, actor="test")
                uow.commit()
            services.registrations.forget("dpo-office")
        else:
            visitor.get("/console/")
    for method, path in guarded(app):
        visitor.get("/console/")  # the sign-in page: a fresh CSRF token, so only the role decides
        response = answer(visitor, method, path)
        assert response.status_code == 303, (who, method, path, response.text)
        assert response.headers["location"] == "/console/", (who, path)


@pytest.mark.parametrize("forged", ["missing", "wrong", "another session's", "foreign origin"])
def test_every_post_needs_our_token_and_origin(app: Any, officer_web: Officer,
                                               officers: Callable[[], Officer],
                                               forged: str) -> None:
    other = officers()
    other.get("/console/")
    for method, path in console_routes(app):
        if method != "POST":
            continue
        data = {"reason": "Case 7", "method": "Passport seen", "code": "EXCESSIVE",
                "client_id": "dpo-office", "client_secret": "x"}
        extra: dict[str, Any] = {}
        if forged == "missing":
            response = officer_web.http.post(concrete(path), data=data)
        else:
            token = {"wrong": "x" * 43, "another session's": other.token,
                     "foreign origin": officer_web.token}[forged]
            if forged == "foreign origin":
                extra["headers"] = {"origin": "https://evil.example"}
            response = officer_web.http.post(concrete(path), data={"csrf": token, **data},
                                             **extra)
        assert response.status_code == 403, (path, response.text)
        assert "did not come from the console" in response.text
    assert officer_web.get("/console/requests").status_code == 200  # still signed in


def test_every_answer_is_no_store_and_scriptless(app: Any, officer_web: Officer) -> None:
    answers = [officer_web.get(concrete(path)) for method, path in console_routes(app)
               if method == "GET"]
    answers.append(officer_web.get("/console/static/console.css"))
    answers.append(officer_web.http.post("/console/sign-out", data={"csrf": "forged"}))
    for response in answers:
        assert response.headers["cache-control"] == "no-store", response.url
        assert response.headers["content-security-policy"] == headers.POLICY
        assert response.headers["x-frame-options"] == "DENY"
        assert "<script" not in response.text


def test_the_cookie_is_secure_over_https(https_app: Any, services: Services,
                                         officer_secret: str) -> None:
    officer = Officer(https_app, base_url="https://vault.example.com")
    answer = officer.sign_in("dpo-office", officer_secret)
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("__host-console=") and "secure" in cookie
    assert "domain=" not in cookie and "path=/" in cookie
    officer.close()


@pytest.fixture
def https_app(settings: Any, services: Services) -> Any:
    import dataclasses

    from membervault.app import create_app

    return create_app(dataclasses.replace(settings, issuer="https://vault.example.com"),
                      services)


def test_no_member_value_in_a_url_or_the_servers_log(app: Any, officer_web: Officer,
                                                     jane: dict[str, Any],
                                                     server_log: Callable[[str], Any]) -> None:
    """An officer at work on Jane's records, a value typed by mistake included: the paths
    and the log carry internal ids only."""
    log = server_log("json")
    officer_web.post("/console/members", {"member": jane["email"]})
    officer_web.post("/console/members", {"member": jane["id"]})
    officer_web.post(f"/console/members/{jane['id']}/holds", {"reason": "Case 7"})
    for method, path in console_routes(app):
        if method == "GET":
            officer_web.get(path.replace("{member_id}", jane["id"]).replace(
                "{request_id}", str(uuid.uuid4())).replace("{receipt_id}", str(uuid.uuid4())))
    logged = log.text()
    assert "/console/members/" in logged
    for value in (jane["email"], jane["givenName"], jane["memberNumber"], "Quasimodo"):
        assert value not in logged
        assert all(value not in location for location in officer_web.locations)


def test_every_routes_log_lines_carry_its_request_id_and_trace_id(
        app: Any, officer_web: Officer, officer_secret: str, jane: dict[str, Any],
        server_log: Callable[[str], ServerLog]) -> None:
    """As on every other route (docs/operations.md#logs): the page runs in a worker
    thread, and what it logs there is still the request's."""
    log = server_log("json")
    sent: dict[str, str] = {}
    last = ["/console/sign-in", "/console/sign-out"]  # a new session, then none
    routes = sorted(console_routes(app),
                    key=lambda route: last.index(route[1]) if route[1] in last else -1)
    for number, (method, path) in enumerate(routes):
        request_id, trace_id = f"console-check-{number:04d}", f"{number + 1:032x}"
        sent[request_id] = trace_id
        headers = {"x-request-id": request_id, "traceparent": f"00-{trace_id}-{1:016x}-01"}
        if method == "GET":
            officer_web.get(concrete(path), headers=headers)
        elif path == "/console/sign-in":
            signed_in = officer_web.post(path, {"client_id": OFFICER,
                                                "client_secret": officer_secret},
                                         headers=headers)
            officer_web.get(signed_in.headers["location"], headers=headers)  # CSRF token
        else:
            officer_web.post(concrete(path), {"reason": "Case 7", "code": "EXCESSIVE",
                                              "member": jane["id"]}, headers=headers)
    # the service's lines and the token endpoint's (authlib's, logged in the sign-in
    # page's worker thread); not the test client's own
    records = [r for r in log.records() if r["logger"].startswith(("membervault", "authlib"))]
    assert {r["requestId"] for r in records} == set(sent)
    assert all(r["traceId"] == sent[r["requestId"]] and len(r["spanId"]) == 16
               for r in records)
    assert any(r["logger"].startswith("authlib") for r in records)
