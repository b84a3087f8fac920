"""HTTP handlers: module-level functions that parse, call one use case and map the result.

Each reads the process's services from ``request.app.state.services`` (set by
:func:`membervault.app.create_app`).
"""

from __future__ import annotations

from starlette.requests import Request

from membervault.services import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
