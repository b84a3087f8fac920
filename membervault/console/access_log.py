"""The access log for officers: every member read, newest first, filtered by reader,
purpose, member and days; and the check of the hash chain end to end. The log names
readers, purposes, internal ids and field names, never a personal value, so reading it
is not itself a read of member data (like ``accessLog``)."""

from __future__ import annotations

import datetime as dt
import re

from starlette.requests import Request
from starlette.responses import Response

from audit import log_view, verification
from audit.log_view import LogFilter, Position
from identity.principal import Principal
from membervault.console import officers, rendering
from membervault.console.requests import opaque_id

PAGE = 50
POSITION = re.compile(r"^(\d{1,18})\.(\d{1,6})$")
TEXT = re.compile(r"^[A-Za-z0-9:._@-]{1,120}$")


def _day(raw: str, *, end: bool) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return dt.datetime.combine(day, dt.time.max if end else dt.time.min, tzinfo=dt.UTC)


@officers.officers_only
def show(request: Request, officer: Principal) -> Response:
    """``GET /console/access-log?principal=&purpose=&member=&since=&until=&after=``."""
    services = officers.services_of(request)
    params = request.query_params
    given = {name: params.get(name, "").strip()
             for name in ("principal", "purpose", "member", "since", "until")}
    flt = LogFilter(
        principal=given["principal"] if TEXT.match(given["principal"]) else None,
        purpose=given["purpose"] if TEXT.match(given["purpose"]) else None,
        member_id=opaque_id(given["member"]) if given["member"] else None,
        since=_day(given["since"], end=False), until=_day(given["until"], end=True))
    found = POSITION.match(params.get("after", ""))
    after = Position(int(found.group(1)), int(found.group(2))) if found else None
    with services.db.unit_of_work() as uow:
        items, following = log_view.page(uow.session, flt, PAGE, after)
    kept = {k: v for k, v in given.items() if v}
    return rendering.render(request, "access_log.html", officer=officer, items=items,
                            given=given, kept=kept, following=following,
                            first_page=after is None)


@officers.officers_only
def verify(request: Request, officer: Principal) -> Response:
    """``GET /console/access-log/verify``: the hash chain checked end to end (and against
    the signed checkpoints of its head and the per-member index)."""
    services = officers.services_of(request)
    with services.db.unit_of_work() as uow:
        result = verification.verify(uow.session, services.notary)
    return rendering.render(request, "verified.html", officer=officer, result=result)
