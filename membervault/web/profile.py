"""The member's profile: shown (``read_own_profile``) and corrected by a rectification
request carried out at once (``subject_requests.opening.correct_own_profile``); each answer
is in the access log before it is shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from audit.access_log import AccessLogUnavailable
from identity import members
from identity.errors import MemberNotFound, ValidationFailed
from identity.members import MemberProfile
from identity.principal import Principal
from membervault.web import languages, pages, rendering, sessions, words
from membervault.web.csrf import form_of
from membervault.web.requests import JURISDICTION, SIGNED_IN
from subject_requests import opening

SHOWN = ("member_number", "given_name", "family_name", "email", "phone", "birthdate",
         "postal_address", "preferred_language", "preferences")
TEXT_FIELDS = ("given_name", "family_name", "email", "phone", "birthdate",
               "preferred_language")
ADDRESS_FIELDS = ("line1", "line2", "line3", "locality", "region", "postal_code", "country")


@pages.members_only
def show(request: Request, member: Principal) -> Response:
    """``GET /privacy/profile``."""
    return _read(request, member, "profile.html")


@pages.members_only
def edit(request: Request, member: Principal) -> Response:
    """``GET /privacy/profile/edit``: the form, filled with the member's values."""
    return _read(request, member, "profile_edit.html")


def _read(request: Request, member: Principal, template: str) -> Response:
    services = pages.services_of(request)
    try:
        with services.db.unit_of_work() as uow:
            profile = members.read_own_profile(uow, services.crypto, member.member_id,
                                               fields=SHOWN, log=pages.reads(request, member))
    except AccessLogUnavailable:
        return pages.log_unavailable(request)
    except MemberNotFound:
        sessions.end(request)
        sessions.notify(request, "sign_in_first")
        return pages.redirect("/")
    sessions.remember_language(request, languages.supported(profile.preferred_language))
    return rendering.render(request, template, profile=profile, values=form_values(profile),
                            problems={}, words=words)


@pages.members_only
def save(request: Request, member: Principal) -> Response:
    """``POST /privacy/profile``: apply the corrections and show the profile as it is now."""
    services = pages.services_of(request)
    form = form_of(request)
    try:
        with services.db.unit_of_work() as uow:
            profile = opening.correct_own_profile(
                uow, services.request_workflow, member.member_id, changes_of(form),
                fields=SHOWN, log=pages.reads(request, member), jurisdiction=JURISDICTION,
                identity_verification=SIGNED_IN, now=services.clock.now())
    except ValidationFailed as refused:
        problems = {(p.field or "").split(".")[0]: words.FIELD_PROBLEMS.get(
            p.code, words.CHECK_THIS) for p in refused.problems}
        return rendering.render(request, "profile_edit.html", status_code=400,
                                values={k: form.get(k, "") for k in TEXT_FIELDS + ADDRESS_FIELDS},
                                problems=problems, words=words)
    except AccessLogUnavailable:
        return pages.log_unavailable(request)
    sessions.remember_language(request, languages.supported(profile.preferred_language))
    sessions.notify(request, "profile_saved")
    return rendering.render(request, "profile.html", profile=profile,
                            values=form_values(profile), problems={}, words=words)


def changes_of(form: Mapping[str, str]) -> dict[str, Any]:
    """The corrections a form asks for; an emptied optional field is removed."""
    changes: dict[str, Any] = {name: form.get(name, "").strip() or None for name in TEXT_FIELDS}
    parts = {name: form.get(name, "").strip() for name in ADDRESS_FIELDS}
    if not any(parts.values()):
        changes["postal_address"] = None
    else:
        address: dict[str, Any] = {
            "lines": [parts[n] for n in ("line1", "line2", "line3") if parts[n]],
            "locality": parts["locality"] or None, "country": parts["country"]}
        for optional in ("region", "postal_code"):
            if parts[optional]:
                address[optional] = parts[optional]
        changes["postal_address"] = address
    return changes


def form_values(profile: MemberProfile) -> dict[str, str]:
    """The form's fields filled from the profile."""
    values = {name: str(getattr(profile, name) or "") for name in TEXT_FIELDS}
    values["birthdate"] = profile.birthdate.isoformat() if profile.birthdate else ""
    address = profile.postal_address or {}
    lines = list(address.get("lines") or []) + ["", "", ""]
    values.update(line1=lines[0], line2=lines[1], line3=lines[2])
    for name in ("locality", "region", "postal_code", "country"):
        values[name] = str(address.get(name) or "")
    return values
