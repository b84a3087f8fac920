"""The ASGI entry point for uvicorn: ``membervault.asgi:app`` (settings from the env)."""

from __future__ import annotations

from membervault.app import create_app
from vaultkernel.logs import configure_logging

configure_logging()
app = create_app()
