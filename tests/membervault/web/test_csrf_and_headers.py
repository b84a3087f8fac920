"""Every POST of the privacy centre needs the session's CSRF token and our own origin;
every answer is no-store with a strict content security policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.routing import Mount, Route

from membervault.services import Services
from membervault.web import headers
from tests.membervault.web.support import Visitor, consents_of


def privacy_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route under /privacy."""
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/privacy")
    return [(method, "/privacy" + r.path) for r in mount.routes if isinstance(r, Route)
            for method in sorted(r.methods or ()) if method != "HEAD"]


def posts(app: Any) -> list[str]:
    return [path for method, path in privacy_routes(app) if method == "POST"]


def test_the_centre_has_these_forms(app: Any) -> None:
    assert set(posts(app)) == {"/privacy/sign-in", "/privacy/sign-in/code",
                               "/privacy/sign-out", "/privacy/language", "/privacy/profile",
                               "/privacy/consents",
                               "/privacy/requests", "/privacy/requests/lift-restriction"}


@pytest.mark.parametrize("forged", ["missing", "wrong", "another session's", "foreign origin"])
def test_every_post_without_our_token_and_origin_is_refused(
        app: Any, jane_web: Visitor, visitors: Callable[[], Visitor], forged: str) -> None:
    other = visitors()
    other.get("/privacy/")
    for path in posts(app):
        data = {"action": "withdraw", "purpose": "marketing.email", "type": "access",
                "email": "x@example.org", "code": "123456", "given_name": "Mallory"}
        extra: dict[str, Any] = {}
        if forged == "missing":
            response = jane_web.http.post(path, data=data)
        else:
            token = {"wrong": "x" * 43, "another session's": other.token,
                     "foreign origin": jane_web.token}[forged]
            if forged == "foreign origin":
                extra["headers"] = {"origin": "https://evil.example"}
            response = jane_web.http.post(path, data={"csrf": token, **data}, **extra)
        assert response.status_code == 403, (path, response.text)
        assert "did not come from our pages" in response.text


def test_a_refused_post_changes_nothing(jane_web: Visitor, jane: dict[str, Any],
                                        services: Services) -> None:
    granted = jane_web.post("/privacy/consents", {"action": "grant",
                                                  "purpose": "marketing.email",
                                                  "notice_version": "1"})
    assert granted.status_code == 303
    before = consents_of(services, jane["id"])
    refused = jane_web.http.post("/privacy/consents", data={
        "csrf": "forged", "action": "withdraw", "purpose": "marketing.email"})
    assert refused.status_code == 403
    assert consents_of(services, jane["id"]) == before
    profile = jane_web.http.post("/privacy/profile", data={"given_name": "Mallory"})
    assert profile.status_code == 403
    assert "Janelle" in jane_web.get("/privacy/profile").text


def test_our_own_origin_is_accepted(jane_web: Visitor) -> None:
    response = jane_web.post("/privacy/consents",
                             {"action": "withdraw", "purpose": "marketing.email"},
                             headers={"origin": "http://127.0.0.1:8000"})
    assert response.status_code == 303


def test_every_page_is_no_store_and_scriptless(app: Any, jane_web: Visitor) -> None:
    gets = [path for method, path in privacy_routes(app)
            if method == "GET" and "{" not in path]
    assert len(gets) >= 6
    answers = [jane_web.get(path) for path in gets]
    answers.append(jane_web.post("/privacy/consents", {"action": "withdraw",
                                                       "purpose": "marketing.email"}))
    answers.append(jane_web.http.post("/privacy/sign-out", data={"csrf": "forged"}))
    answers.append(jane_web.get("/privacy/static/privacy.css"))
    for response in answers:
        assert response.headers["cache-control"] == "no-store", response.url
        assert response.headers["content-security-policy"] == headers.POLICY
        assert "script-src" not in headers.POLICY and "default-src 'none'" in headers.POLICY
        assert response.headers["x-frame-options"] == "DENY"
        assert "<script" not in response.text


def test_the_style_sheet_is_served_locally(visitor: Visitor) -> None:
    page = visitor.get("/privacy/")
    assert 'href="/privacy/static/privacy.css"' in page.text
    assert "http" not in page.text.split("<body>")[0].replace('content="same-origin"', "")
    css = visitor.get("/privacy/static/privacy.css")
    assert css.status_code == 200 and "focus-visible" in css.text
