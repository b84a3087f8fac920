"""Every purpose in plain language with its legal basis, notice and version, and the
member's choice: say yes, withdraw, object, or withdraw an objection, one click each
(``consent.service``). The notice is in the page's language; each form says which
language it showed, and the consent record keeps it with the hash of that text."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from consent import service
from identity.principal import Principal
from membervault.web import pages, rendering, sessions, words
from membervault.web.csrf import form_of
from vaultkernel.errors import DomainError

REFUSALS = {"GPC_CONFLICT": "gpc_conflict", "NOTICE_OUTDATED": "notice_outdated"}
DONE = {"grant": "consent_granted", "withdraw": "consent_withdrawn", "object": "objected",
        "withdraw_objection": "objection_withdrawn"}


@pages.members_only
def show(request: Request, member: Principal) -> Response:
    """``GET /privacy/consents``."""
    services = pages.services_of(request)
    with services.db.unit_of_work() as uow:
        statuses = service.consents_of(uow, services.policy, member.member_id)
    policy = services.policy
    shown = policy.notice_language(rendering.language_of(request))
    return rendering.render(request, "consents.html", statuses=statuses, words=words,
                            gpc=pages.gpc_signal(request),
                            texts={key: policy.purpose_text(key, shown)
                                   for key in policy.purposes})


@pages.members_only
def change(request: Request, member: Principal) -> Response:
    """``POST /privacy/consents``: one change, then back to the purpose on the page."""
    services = pages.services_of(request)
    form = form_of(request)
    action, purpose = form.get("action", ""), form.get("purpose", "")
    if action not in DONE or purpose not in services.policy.purposes:
        return rendering.render(request, "not_found.html", status_code=400)
    version = form.get("notice_version", "")
    try:
        with services.db.unit_of_work() as uow:
            if action in ("grant", "withdraw"):
                service.change_consent(
                    uow, services.policy, services.crypto, member.member_id, purpose,
                    granted=action == "grant",
                    notice_version=int(version) if version.isdigit() else None,
                    channel="web", actor=member.actor, evidence=pages.evidence(request),
                    language=form.get("notice_language") or rendering.language_of(request))
            else:
                service.set_objection(uow, services.policy, member.member_id, purpose,
                                      objected=action == "object", actor=member.actor)
    except DomainError as refused:
        sessions.notify(request, REFUSALS.get(refused.code, "not_possible"))
    else:
        sessions.notify(request, DONE[action])
    return pages.redirect(f"/consents#purpose-{purpose}")
