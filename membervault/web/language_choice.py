"""The language chooser on every page: ``POST /privacy/language`` with the language and
the page to go back to. The pick is kept in the session and wins over the member's
preferred language and the browser's; it changes no stored value (mail follows the
member's ``preferredLanguage``, corrected on the profile page)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from membervault.web import languages, pages, sessions
from membervault.web.csrf import form_of

# A page of the centre to go back to: a path under /privacy, nothing else (no open
# redirect, no query: personal values never travel in a web address anyway).
BACK = re.compile(r"^/privacy(/[A-Za-z0-9._-]+)*/?$")


def choose(request: Request) -> Response:
    """``POST /privacy/language``."""
    form = form_of(request)
    language = languages.supported(form.get("language", ""))
    if language is not None:
        sessions.choose_language(request, language)
    back = form.get("next", "")
    if not BACK.match(back) or ".." in back:
        back = pages.ROOT + "/"
    return pages.redirect(back.removeprefix(pages.ROOT) or "/")
