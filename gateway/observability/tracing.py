"""Traces: a caller's W3C ``traceparent`` runs through its job.

The ``traceparent`` sent with ``POST /v1/jobs`` is stored with the job; the submission, each poll
and each delivery attempt are spans whose parent is that context (so they join the caller's
trace, whichever replica runs them, however much later), and the webhook carries the delivery
span's own ``traceparent``. Spans are exported over OTLP/HTTP only when an endpoint is configured
(``OTEL_EXPORTER_OTLP_ENDPOINT``); otherwise the tracer is the API's no-op one and nothing is
recorded or sent. ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES`` and
``OTEL_EXPORTER_OTLP_HEADERS`` are honoured as the specification says, read through the settings.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import (
    SERVICE_INSTANCE_ID,
    SERVICE_NAME,
    SERVICE_VERSION,
    TELEMETRY_SDK_LANGUAGE,
    TELEMETRY_SDK_NAME,
    TELEMETRY_SDK_VERSION,
    Resource,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.version import __version__ as sdk_version
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway import __version__
from gateway.settings import Settings, key_value_pairs

_PROPAGATOR = TraceContextTextMapPropagator()
TRACER_NAME = "gateway"
DEFAULT_SERVICE_NAME = "video-webhook-gateway"


def otlp_tracer_provider(settings: Settings) -> TracerProvider | None:
    """An SDK provider exporting to the configured OTLP endpoint; ``None`` when none is set."""
    endpoint = settings.otel_exporter_otlp_endpoint.strip()
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=service_resource(settings))
    # OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; traces go to /v1/traces under it.
    exporter = OTLPSpanExporter(
        endpoint=f"{endpoint.rstrip('/')}/v1/traces",
        headers=key_value_pairs(settings.otel_exporter_otlp_headers, "OTEL_EXPORTER_OTLP_HEADERS"),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def service_resource(settings: Settings) -> Resource:
    """Who the spans come from, from the settings alone: the SDK's own description, then
    ``OTEL_RESOURCE_ATTRIBUTES``, then the gateway's version and replica id (unless the
    attributes name them), and the name: ``OTEL_SERVICE_NAME``, else the attributes'
    ``service.name``, else ``video-webhook-gateway``. Built without ``Resource.create``, which
    would read the environment again behind the settings' back."""
    given = key_value_pairs(settings.otel_resource_attributes, "OTEL_RESOURCE_ATTRIBUTES")
    attributes: dict[str, str] = {
        TELEMETRY_SDK_LANGUAGE: "python",
        TELEMETRY_SDK_NAME: "opentelemetry",
        TELEMETRY_SDK_VERSION: sdk_version,
        SERVICE_VERSION: __version__,
        SERVICE_INSTANCE_ID: settings.replica_id,
        **given,
    }
    attributes[SERVICE_NAME] = (
        settings.otel_service_name or given.get(SERVICE_NAME) or DEFAULT_SERVICE_NAME
    )
    return Resource(attributes)


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
