"""Rendering the console's pages: its templates first, then the privacy centre's layout
(``base.html``) they extend; the console's own catalogue (Babel domain ``console``)
merged over the privacy centre's, so the shared layout speaks the page's language too.
The policy's words (purpose and category titles) are in the page's language when the
policy has them in it, else in the policy's own (``notice_lang``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse

from membervault.console import words
from membervault.console.notices import NOTICES
from membervault.web import languages, rendering, sessions
from vaultkernel.policy import Policy

TEMPLATES = Path(__file__).resolve().parent / "templates"
DOMAIN = "console"


def catalogue(language: str) -> NullTranslations:
    """The console's texts over the privacy centre's (for the shared layout)."""
    shared = languages.compiled(language)
    if isinstance(shared, Translations):
        own = languages.compiled(language, DOMAIN)
        assert isinstance(own, Translations)
        shared.merge(own)
    return shared


@functools.cache
def environment(language: str) -> Environment:
    return rendering.build_environment([TEMPLATES, rendering.TEMPLATES],
                                       catalogue(language), language)


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    language = rendering.language_of(request)
    notice = sessions.take_notice(request)
    officer = context.pop("officer", None)
    policy: Policy = request.app.state.services.policy
    notice_lang = policy.notice_language(language)
    html = environment(language).get_template(template).render(
        lang=language, notice_lang=notice_lang,
        purpose_title=lambda key: (policy.purpose_text(key, notice_lang).title
                                   if key in policy.purposes else key),
        category_title=lambda key: policy.category_title(key, notice_lang),
        csrf_token=sessions.csrf_token(request), signed_in=officer is not None,
        officer=officer, notice=NOTICES.get(notice) if notice else None,
        path=request.url.path, words=words, **context)
    return HTMLResponse(html, status_code=status_code)


def refused(request: Request) -> HTMLResponse:
    """A POST without the session's CSRF token or from another site (403)."""
    return render(request, "refused.html", status_code=403)


def not_found(request: Request, officer: object = None) -> HTMLResponse:
    return render(request, "not_found.html", status_code=404, officer=officer)


def log_unavailable(request: Request, officer: object = None) -> HTMLResponse:
    """A view of member data whose access-log entry could not be written shows nothing."""
    return render(request, "unavailable.html", status_code=503, officer=officer)

