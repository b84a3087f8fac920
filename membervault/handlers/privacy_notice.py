"""The privacy notice (``GET /policy``, ``GET /policy.json``): the policy file's controller,
purposes and categories, in the language asked for, as an HTML page or JSON. Consent
receipts point here (``policyUrl``); no token is needed.

Language: ``?lang=`` first, then ``Accept-Language`` (by weight), each matched exactly or
by its primary subtag (``fr-BE`` is served ``fr``); anything else falls back to the
policy's own language. ``Content-Language`` says which was served. Format: ``/policy.json``
is JSON; ``/policy`` is HTML, or JSON for an ``Accept`` that asks for JSON and not HTML.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from consent.notices import notice
from membervault.handlers import services_of
from vaultkernel.languages import ALIASES

HEADERS = {"Cache-Control": "public, max-age=300", "Vary": "Accept, Accept-Language"}


def requested_languages(accept_language: str) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (``q=0`` and ``*``
    left out)."""
    weighted = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag.strip() and tag.strip() != "*" and weight > 0:
            weighted.append((-weight, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def choose_language(available: Sequence[str], wanted: Sequence[str]) -> str:
    """The first wanted language available (exactly, or by primary subtag), else the
    first available one (the policy's own)."""
    by_tag = {tag.lower(): tag for tag in available}
    for tag in wanted:
        tag = tag.lower()
        if tag in by_tag:
            return by_tag[tag]
        primary = tag.split("-")[0]
        primary = ALIASES.get(primary, primary)  # Norwegian: served in Bokmål
        if primary in by_tag:
            return by_tag[primary]
    return available[0]


def _wants_json(request: Request) -> bool:
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def privacy_notice(request: Request) -> Response:
    policy = services_of(request).policy
    wanted = [request.query_params.get("lang", ""),
              *requested_languages(request.headers.get("accept-language", ""))]
    language = choose_language(policy.languages, [w for w in wanted if w])
    document = notice(policy, language)
    headers = {**HEADERS, "Content-Language": language}
    if _wants_json(request):
        return JSONResponse(document, headers=headers)
    return HTMLResponse(page(document), headers=headers)


def page(document: dict[str, Any]) -> str:
    """The notice as a plain HTML page (every value escaped)."""
    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

    language = document["language"]
    controller = document["controller"]
    address = controller["address"]
    town = " ".join(address[k] for k in ("postalCode", "addressLocality") if k in address)
    lines = [address.get("streetAddress", ""), town, address.get("addressRegion", ""),
             address.get("addressCountry", "")]
    alternates = "\n".join(
        f'<link rel="alternate" hreflang="{e(tag)}" href="/policy?lang={e(tag)}">'
        for tag in document["languages"])
    switch = " | ".join(
        f'<a href="/policy?lang={e(tag)}" hreflang="{e(tag)}" lang="{e(tag)}">{e(tag)}</a>'
        for tag in document["languages"])
    sections = "\n".join(
        f'<section id="{e(p["purpose"])}">\n<h2>{e(p["title"])}</h2>\n<p>{e(p["notice"])}</p>\n'
        "<ul>" + "".join(f'<li>{e(c["title"])}</li>' for c in p["categories"]) + "</ul>\n"
        "</section>" for p in document["purposes"])
    return f"""<!DOCTYPE html>
<html lang="{e(language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(document["title"])} - {e(controller["name"])}</title>
{alternates}
<link rel="alternate" type="application/json" href="/policy.json?lang={e(language)}">
</head>
<body>
<nav>{switch}</nav>
<main>
<h1>{e(document["title"])}</h1>
<p id="{e(document["policyVersion"])}">{e(document["policyVersion"])}</p>
<address>{e(controller["name"])}<br>
{"<br>".join(e(line) for line in lines if line)}<br>
{e(controller["phone"])}<br>
<a href="mailto:{e(controller["email"])}">{e(controller["email"])}</a>
</address>
{sections}
</main>
</body>
</html>
"""
