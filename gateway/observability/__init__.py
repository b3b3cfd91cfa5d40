"""Logs (structlog), metrics (Prometheus) and traces (OpenTelemetry)."""

from gateway.observability.logging import configure_logging
from gateway.observability.metrics import Metrics

__all__ = ["Metrics", "configure_logging"]
