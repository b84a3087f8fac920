"""A visitor of the privacy centre: a browser's cookies (one TestClient each), the CSRF
token of the last page, and the sign-in with the code from the development mailbox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


MAILED_CODE = re.compile(r"\b(\d{6})\b")


def mailed_code(mailbox: Path) -> str:
    """The code of the last mail, whatever language it is written in."""
    last = mailbox.read_text().rsplit("To: ", 1)[1]
    found = MAILED_CODE.search(last.split("\n\n", 1)[1])
    assert found, "no code in the last mail"
    return found.group(1)


class Visitor:
    def __init__(self, app: Any, base_url: str = "http://127.0.0.1:8000"):
        self.http = TestClient(app, base_url=base_url, follow_redirects=False)
        self.token = ""
        self.locations: list[str] = []

    def _seen(self, response: httpx.Response) -> httpx.Response:
        found = CSRF.search(response.text) if "html" in response.headers.get(
            "content-type", "") else None
        if found:
            self.token = found.group(1)
        if "location" in response.headers:
            self.locations.append(response.headers["location"])
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._seen(self.http.get(path, **kwargs))

    def post(self, path: str, data: dict[str, str] | None = None,
             **kwargs: Any) -> httpx.Response:
        return self._seen(self.http.post(path, data={"csrf": self.token, **(data or {})},
                                         **kwargs))

    def follow(self, response: httpx.Response) -> httpx.Response:
        """The page a 303 sends the browser to."""
        assert response.status_code == 303, response.text
        return self.get(response.headers["location"])

    def sign_in(self, email: str, mailbox: Path) -> httpx.Response:
        """Ask for a code, read it from the development mailbox, enter it; returns the
        redirect that ends the sign-in."""
        self.get("/privacy/")
        asked = self.post("/privacy/sign-in", {"email": email})
        assert asked.status_code == 200, asked.text
        return self.post("/privacy/sign-in/code", {"email": email,
                                                   "code": mailed_code(mailbox)})

    def close(self) -> None:
        self.http.close()


def consents_of(services: Any, member_id: str) -> dict[str, str]:
    """The member's consent status per purpose, as the ledger's projection has it."""
    import uuid

    from consent.service import consents_of as overview

    with services.db.unit_of_work() as uow:
        return {s.purpose.key: s.status
                for s in overview(uow, services.policy, uuid.UUID(member_id))}


def profile_form(**changes: str) -> dict[str, str]:
    """The profile form as Jane's page fills it, with ``changes`` typed in."""
    fields = {"given_name": "Janelle", "family_name": "Quasimodo-Varga",
              "email": "janelle.qv@example.org", "phone": "07911 123456",
              "birthdate": "1990-02-03", "preferred_language": "en-GB",
              "line1": "12 Rosewood Lane", "line2": "", "line3": "", "postal_code": "BS1 4DJ",
              "locality": "Bristol", "region": "", "country": "GB"}
    return {**fields, **changes}
