"""The service's own records for officers: the record of processing activities (GDPR
Art. 30, generated from the enforced policy and the registered clients), the retention
schedule and what the last sweep did; an erasure request's signed certificate."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from identity.principal import Principal
from membervault.console import officers, rendering
from membervault.console.requests import opaque_id
from retention import service as retention
from subject_requests import erasure


@officers.officers_only
def record_of_processing(request: Request, officer: Principal) -> Response:
    """``GET /console/record-of-processing``."""
    services = officers.services_of(request)
    with services.db.unit_of_work() as uow:
        record = retention.record_of_processing(uow, services.policy)
    return rendering.render(request, "record_of_processing.html", officer=officer,
                            record=record)


@officers.officers_only
def retention_schedule(request: Request, officer: Principal) -> Response:
    """``GET /console/retention``: every rule of the policy and the last full sweep."""
    services = officers.services_of(request)
    with services.db.unit_of_work() as uow:
        last = retention.last_sweep(uow)
    return rendering.render(request, "retention.html", officer=officer,
                            rules=list(services.policy.retention.values()), last=last)


@officers.officers_only
def certificate(request: Request, officer: Principal) -> Response:
    """``GET /console/requests/{request_id}/certificate``: the signed erasure certificate
    (once the member is erased)."""
    services = officers.services_of(request)
    request_id = opaque_id(request.path_params["request_id"])
    if request_id is None:
        return rendering.not_found(request, officer)
    try:
        with services.db.unit_of_work() as uow:
            document, signed = erasure.erasure_certificate(
                uow, services.policy, request_id, issuer=services.settings.issuer,
                signing_key=services.signing_keys.active, now=services.clock.now())
    except erasure.CertificateError as refused:
        if refused.code == "NOT_FOUND":
            return rendering.not_found(request, officer)
        return rendering.render(request, "certificate.html", officer=officer,
                                request_id=request_id, document=None, signed=None)
    return rendering.render(request, "certificate.html", officer=officer,
                            request_id=request_id, signed=signed,
                            document=json.dumps(document, indent=2, sort_keys=True))
