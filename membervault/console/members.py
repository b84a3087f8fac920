"""One member's records, by internal id: consent history and receipts, legal holds
(place and lift). Each view is an officer's read of the member's records and is written
to the access log before it is shown (purpose ``compliance``); without the log, nothing
is shown (503)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from audit.access_log import AccessLogUnavailable, ReaderLog
from consent import service as consents
from identity.principal import Principal
from membervault.console import officers, rendering
from membervault.console.requests import MAX_TEXT, opaque_id
from membervault.web import sessions
from membervault.web.csrf import form_of
from retention import service as retention
from retention.models import LegalHold
from vaultkernel.database import UnitOfWork
from vaultkernel.errors import DomainError
from vaultkernel.request_id import current_request_id

T = TypeVar("T")


def reads(request: Request, officer: Principal) -> ReaderLog:
    """The access log bound to the officer in this request."""
    return officers.services_of(request).access_log.reader(officer.actor, current_request_id())


@officers.officers_only
def find(request: Request, officer: Principal) -> Response:
    """``GET /console/members``: the form to open a member's records by internal id."""
    return rendering.render(request, "members.html", officer=officer, problem=False)


@officers.officers_only
def open_member(request: Request, officer: Principal) -> Response:
    """``POST /console/members``: leads to the member's consents. A POST, so whatever is
    typed (an email by mistake) never lands in a URL or the browser's history."""
    member_id = opaque_id(form_of(request).get("member", "").strip())
    if member_id is None:
        return rendering.render(request, "members.html", status_code=400, officer=officer,
                                problem=True)
    return officers.redirect(f"/members/{member_id}/consents")


RecordsRead = Callable[[UnitOfWork, uuid.UUID, ReaderLog], T | None]


def _logged_read(request: Request, officer: Principal, param: str, read: RecordsRead[T],
                 show: Callable[[uuid.UUID, T], Response]) -> Response:
    """A page of one member's records: the id in ``param`` (else 404), ``read`` with the
    access log bound to the officer (no log: 503, nothing shown; ``None``: 404), then
    ``show`` the records."""
    record_id = opaque_id(request.path_params[param])
    if record_id is None:
        return rendering.not_found(request, officer)
    try:
        with officers.services_of(request).db.unit_of_work() as uow:
            found = read(uow, record_id, reads(request, officer))
    except AccessLogUnavailable:
        return rendering.log_unavailable(request, officer)
    if found is None:
        return rendering.not_found(request, officer)
    return show(record_id, found)


@officers.officers_only
def consent_history(request: Request, officer: Principal) -> Response:
    """``GET /console/members/{member_id}/consents``: every consent record, oldest first,
    each with its receipt (**logged read**)."""
    return _logged_read(
        request, officer, "member_id",
        lambda uow, member_id, log: consents.consent_history_for_officer(uow, member_id,
                                                                         log=log),
        lambda member_id, records: rendering.render(
            request, "consents.html", officer=officer, member_id=member_id,
            records=records))


@officers.officers_only
def receipt(request: Request, officer: Principal) -> Response:
    """``GET /console/receipts/{receipt_id}``: a consent receipt and its JWS (**logged
    read**, under the record's member)."""
    services = officers.services_of(request)
    return _logged_read(
        request, officer, "receipt_id",
        lambda uow, receipt_id, log: consents.receipt_for_officer(
            uow, services.policy, receipt_id, issuer=services.settings.issuer,
            signing_key=services.signing_keys.active(), log=log),
        lambda _, signed: rendering.render(
            request, "receipt.html", officer=officer, signed=signed,
            document=json.dumps(signed.document, indent=2, sort_keys=True)))


@officers.officers_only
def legal_holds(request: Request, officer: Principal) -> Response:
    """``GET /console/members/{member_id}/holds``: every hold, newest first (**logged
    read**), and the form to place one."""
    services = officers.services_of(request)

    def show(member_id: uuid.UUID, holds: list[LegalHold]) -> Response:
        now = services.clock.now()
        return rendering.render(
            request, "holds.html", officer=officer, member_id=member_id,
            holds=[(h, h.lifted_at is None and (h.expires_at is None or h.expires_at > now))
                   for h in holds],
            categories=sorted(services.policy.categories))

    return _logged_read(
        request, officer, "member_id",
        lambda uow, member_id, log: retention.legal_holds_for_officer(uow, member_id,
                                                                      log=log),
        show)


@officers.officers_only
def place_hold(request: Request, officer: Principal) -> Response:
    """``POST /console/members/{member_id}/holds``: a reason (no personal value), the
    categories it keeps (none: all), an optional end date."""
    services = officers.services_of(request)
    member_id = opaque_id(request.path_params["member_id"])
    if member_id is None:
        return rendering.not_found(request, officer)
    form = form_of(request)
    reason = form.get("reason", "").strip()
    categories = [c for c in services.policy.categories if form.get(f"category:{c}") == "on"]
    try:
        expires_at = _day_end(form.get("expires", ""))
    except ValueError:
        reason = ""
    if not reason or len(reason) > MAX_TEXT:
        sessions.notify(request, "reason_needed")
        return officers.redirect(f"/members/{member_id}/holds")
    try:
        with services.db.unit_of_work() as uow:
            retention.place_legal_hold(uow, member_id, reason, actor=officer.actor,
                                       expires_at=expires_at,
                                       now=services.clock.now(),
                                       categories=categories or None, policy=services.policy)
    except DomainError as refused:
        sessions.notify(request, refused.code if refused.code == "MEMBER_NOT_FOUND"
                        else "refused")
    else:
        sessions.notify(request, "hold_placed")
    return officers.redirect(f"/members/{member_id}/holds")


@officers.officers_only
def lift_hold(request: Request, officer: Principal) -> Response:
    """``POST /console/holds/{hold_id}/lift``."""
    services = officers.services_of(request)
    hold_id = opaque_id(request.path_params["hold_id"])
    if hold_id is None:
        return rendering.not_found(request, officer)
    try:
        with services.db.unit_of_work() as uow:
            hold = retention.lift_legal_hold(uow, hold_id, actor=officer.actor,
                                             now=services.clock.now())
            member_id = hold.member_id
    except DomainError:
        return rendering.not_found(request, officer)
    sessions.notify(request, "hold_lifted")
    return officers.redirect(f"/members/{member_id}/holds")


def _day_end(raw: str) -> dt.datetime | None:
    """The end of a ``YYYY-MM-DD`` day in UTC; ``None`` for none given (``ValueError``
    when it is not a date)."""
    if not raw.strip():
        return None
    day = dt.date.fromisoformat(raw.strip())
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)
