"""The ASGI entry point for uvicorn: ``membervault.asgi:app`` (settings from the env)."""

from __future__ import annotations

from membervault.app import create_app
from vaultkernel.logs import configure_logging
from vaultkernel.settings import load_settings

settings = load_settings()
configure_logging(log_format=settings.effective_log_format)
app = create_app(settings)
