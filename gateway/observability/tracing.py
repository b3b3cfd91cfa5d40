"""Traces: a caller's W3C ``traceparent`` runs through its job.

The ``traceparent`` sent with ``POST /v1/jobs`` is stored with the job; the submission, each poll
and each delivery attempt are spans whose parent is that context (so they join the caller's
trace, whichever replica runs them, however much later), and the webhook carries the delivery
span's own ``traceparent``. Spans are exported over OTLP/HTTP only when an endpoint is configured
(``OTEL_EXPORTER_OTLP_ENDPOINT``); otherwise the tracer is the API's no-op one and nothing is
recorded or sent.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway import __version__
from gateway.settings import Settings

_PROPAGATOR = TraceContextTextMapPropagator()
TRACER_NAME = "gateway"


def otlp_tracer_provider(settings: Settings) -> TracerProvider | None:
    """An SDK provider exporting to the configured OTLP endpoint; ``None`` when none is set."""
    endpoint = settings.otel_exporter_otlp_endpoint.strip()
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(
        resource=Resource.create(
            {
                SERVICE_NAME: "video-webhook-gateway",
                SERVICE_VERSION: __version__,
                "service.instance.id": settings.replica_id,
            }
        )
    )
    # OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; traces go to /v1/traces under it.
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def tracer_from(provider: trace.TracerProvider | None) -> Tracer:
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer(TRACER_NAME, __version__)


def normalize_traceparent(value: str | None) -> str | None:
    """The canonical form of a valid W3C ``traceparent``; ``None`` for a missing or invalid one
    (the W3C rule: an invalid header is ignored, never an error)."""
    if not value or len(value) > 512:
        return None
    context = _PROPAGATOR.extract({"traceparent": value.strip()})
    span_context = trace.get_current_span(context).get_span_context()
    if not span_context.is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return carrier.get("traceparent")


def parent_context(traceparent: str | None) -> Context | None:
    """The context a job's spans hang from: its stored ``traceparent``, or a new trace."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


@contextmanager
def job_span(
    tracer: Tracer,
    name: str,
    traceparent: str | None,
    *,
    kind: SpanKind = SpanKind.CLIENT,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span]:
    """A span of the job's trace (a child of its stored ``traceparent``)."""
    with tracer.start_as_current_span(
        name, context=parent_context(traceparent), kind=kind, attributes=attributes
    ) as span:
        yield span


def inject_traceparent(span: Span, headers: MutableMapping[str, str]) -> None:
    """Add ``span``'s ``traceparent`` to ``headers`` (nothing when the span records nothing)."""
    _PROPAGATOR.inject(headers, context=trace.set_span_in_context(span))
