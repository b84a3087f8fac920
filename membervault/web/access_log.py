"""Who read my data, when, and for what: the member's entries of the access log
(``audit.log_view.own_reads``), newest first, a page at a time."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from audit import log_view
from identity.principal import Principal
from membervault.services import Services
from membervault.web import pages, rendering, words

PAGE = 50


@pages.members_only
def show(request: Request, member: Principal) -> Response:
    """``GET /privacy/access-log`` (``?before=<entry>`` for older entries)."""
    services = pages.services_of(request)
    raw = request.query_params.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    with services.db.unit_of_work() as uow:
        reads = log_view.own_reads(uow, member.member_id, first=PAGE, before=before)
    language = services.policy.notice_language(rendering.language_of(request))
    items = [{"at": r.at, "reader": words.reader(r.principal, member.member_id,
                                                   services.policy),
              "purpose": words.purpose_title(r.purpose, services.policy, language),
              "returned": [_field(f, services, language) for f in r.returned],
              "denied": [(_field(f, services, language), words.DENIALS.get(code, code))
                         for f, code in r.denied.items()]}
             for r in reads]
    older = reads[-1].sequence if len(reads) == PAGE else None
    return rendering.render(request, "access_log.html", items=items, older=older,
                            first_page=before is None)


def _field(name: str, services: Services, language: str) -> str:
    if name.startswith("consent:"):
        return words.purpose_title(name.partition(":")[2], services.policy, language)
    return words.ATTRIBUTES.get(name) or words.RECORDS.get(name, name)
