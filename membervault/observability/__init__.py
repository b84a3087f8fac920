"""What operators see of a running process: metrics (Prometheus), traces
(OpenTelemetry) and the ids that tie log lines to both. See docs/operations.md."""
