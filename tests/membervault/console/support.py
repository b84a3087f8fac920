"""An officer in the console: a browser's cookies (one TestClient), the CSRF token of the
last page, and the sign-in with the officer's client credentials."""

from __future__ import annotations

import httpx

from tests.membervault.web.support import Visitor


class Officer(Visitor):
    def sign_in(self, client_id: str, secret: str) -> httpx.Response:  # type: ignore[override]
        """Open the sign-in page and post the credentials; returns the answer."""
        self.get("/console/")
        return self.post("/console/sign-in", {"client_id": client_id,
                                              "client_secret": secret})
