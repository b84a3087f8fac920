"""The member's consent receipts: every consent record, each receipt shown and
downloadable as JSON or as the signed JWS (verifiable with ``/.well-known/jwks.json``)."""

from __future__ import annotations

import uuid

import orjson
from starlette.requests import Request
from starlette.responses import Response

from consent import service
from consent.receipts import receipt_language
from consent.service import SignedReceipt
from identity.principal import Principal
from membervault.web import pages, rendering, words


@pages.members_only
def show_all(request: Request, member: Principal) -> Response:
    """``GET /privacy/receipts``: newest first."""
    services = pages.services_of(request)
    with services.db.unit_of_work() as uow:
        records = service.consent_history(uow, member.member_id)
    return rendering.render(request, "receipts.html", records=list(reversed(records)),
                            words=words, policy=services.policy)


def _receipt(request: Request, member: Principal) -> SignedReceipt | None:
    services = pages.services_of(request)
    try:
        receipt_id = uuid.UUID(request.path_params["receipt_id"])
    except ValueError:
        return None
    with services.db.unit_of_work() as uow:
        return service.own_receipt(uow, services.policy, member.member_id, receipt_id,
                                   issuer=services.settings.issuer,
                                   signing_key=services.signing_keys.active())


@pages.members_only
def show(request: Request, member: Principal) -> Response:
    """``GET /privacy/receipts/{receipt_id}``."""
    signed = _receipt(request, member)
    if signed is None:
        return pages.not_found(request)
    text = orjson.dumps(signed.document, option=orjson.OPT_INDENT_2).decode()
    policy = pages.services_of(request).policy
    return rendering.render(request, "receipt.html", signed=signed, text=text, words=words,
                            policy=policy,
                            receipt_lang=receipt_language(signed.record, policy))


@pages.members_only
def download(request: Request, member: Principal) -> Response:
    """``GET /privacy/receipts/{receipt_id}/receipt.json`` and ``.../receipt.jws``."""
    signed = _receipt(request, member)
    if signed is None:
        return pages.not_found(request)
    name = f"consent-receipt-{signed.record.receipt_id}"
    if request.url.path.endswith(".jws"):
        return Response(signed.jws, media_type="application/jose", headers={
            "Content-Disposition": f'attachment; filename="{name}.jws"'})
    return Response(orjson.dumps(signed.document, option=orjson.OPT_INDENT_2),
                    media_type="application/json", headers={
                        "Content-Disposition": f'attachment; filename="{name}.json"'})
