"""A caller's trace runs from ``POST /v1/jobs`` to the webhook's ``traceparent``: submission,
every poll and every delivery attempt are spans of it (the SDK's in-memory exporter records them).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.observability.tracing import normalize_traceparent, otlp_tracer_provider
from gateway.settings import load_settings
from gateway.testing import live_stack
from gateway.testing.waiting import wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _recording() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_the_trace_runs_from_the_request_to_the_webhook_traceparent(tmp_path: Path) -> None:
    provider, exporter = _recording()
    with live_stack(tmp_path / "live.db", tracer_provider=provider) as live:
        response = httpx.post(
            f"{live.url}/v1/jobs",
            json={"prompt": "a horse", "duration": 5, "callback_url": live.hook_url},
            headers={
                "Authorization": f"Bearer {live.key}",
                "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
            },
            timeout=10,
        )
        assert 202 == response.status_code, response.text
        wait_for(lambda: live.receiver.received, timeout_s=30, what="the webhook")
        wait_for(
            lambda: any(s.name == "gateway.deliver" for s in exporter.get_finished_spans()),
            timeout_s=10,
            what="the delivery span to end",
        )
        received = live.receiver.received

    with sqlite3.connect(live.database_path) as db:
        stored = db.execute("SELECT traceparent FROM jobs").fetchall()
    assert [(f"00-{TRACE_ID}-{CALLER_SPAN}-01",)] == stored  # stored with the job

    header = received[0].headers["traceparent"]
    version, trace_id, parent_id, flags = header.split("-")
    assert ("00", TRACE_ID, "01") == (version, trace_id, flags)

    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert 1 == names.count("gateway.submit"), names
    assert names.count("gateway.poll") >= 1, names
    deliver = next(s for s in spans if s.name == "gateway.deliver")
    assert parent_id == format(deliver.context.span_id, "016x")  # the webhook's parent: the attempt
    for span in spans:
        assert TRACE_ID == format(span.context.trace_id, "032x"), span.name
        assert span.parent is not None
        assert CALLER_SPAN == format(span.parent.span_id, "016x"), span.name


def test_without_a_traceparent_the_webhook_starts_a_trace_of_its_own(tmp_path: Path) -> None:
    """No caller context: the job's spans still form one trace each, and nothing breaks."""
    provider, exporter = _recording()
    with live_stack(tmp_path / "live.db", tracer_provider=provider) as live:
        response = httpx.post(
            f"{live.url}/v1/jobs",
            json={"prompt": "a horse", "callback_url": live.hook_url},
            headers={"Authorization": f"Bearer {live.key}", "traceparent": "not-a-trace"},
            timeout=10,
        )
        assert 202 == response.status_code, response.text
        wait_for(lambda: live.receiver.received, timeout_s=30, what="the webhook")
        received = live.receiver.received
    assert TRACE_ID not in received[0].headers["traceparent"]
    assert all(span.parent is None for span in exporter.get_finished_spans())


def test_traceparent_is_normalized_or_ignored() -> None:
    assert f"00-{TRACE_ID}-{CALLER_SPAN}-01" == normalize_traceparent(
        f" 00-{TRACE_ID}-{CALLER_SPAN}-01 "
    )
    invalid_ones = (
        None,
        "",
        "garbage",
        f"00-{TRACE_ID.upper()}-{CALLER_SPAN}-01",  # W3C: lower-case hex only
        f"00-{'0' * 32}-{CALLER_SPAN}-01",  # an all-zero trace id
        "x" * 600,
    )
    for invalid in invalid_ones:
        assert normalize_traceparent(invalid) is None


def test_spans_are_exported_only_when_an_otlp_endpoint_is_set() -> None:
    assert otlp_tracer_provider(load_settings({})) is None
    settings = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert "http://127.0.0.1:4318" == settings.otel_exporter_otlp_endpoint
    provider = otlp_tracer_provider(settings)
    assert provider is not None
    provider.shutdown()  # nothing recorded, nothing sent
