"""Plugging a process's tracer and metrics into the kernel's seam."""


from __future__ import annotations

from opentelemetry.sdk.trace.export import SpanExporter

from membervault.observability import metrics, tracing
from membervault.services import Services
from vaultkernel import telemetry


def observe(services: Services, role: str, exporter: SpanExporter | None = None, *,
            observer: telemetry.Observer = metrics.observe) -> None:
    """Plug this process's tracer and metrics (the server's, unless ``observer`` says
    otherwise) into the kernel's seam; with an exporter (or ``MEMBERVAULT_OTLP_ENDPOINT``)
    spans are recorded, database statements included."""
    provider = tracing.provider(services.settings, role, exporter)
    recording = tracing.recording(services.settings, exporter)
    telemetry.install(provider.get_tracer("membervault"), observer, recording=recording)
    if recording:
        tracing.trace_statements(services.db.engine)
