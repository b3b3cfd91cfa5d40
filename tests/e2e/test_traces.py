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

from gateway.http.app import create_app
from gateway.observability.tracing import normalize_traceparent, otlp_tracer_provider
from gateway.settings import Settings, load_settings
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer
from tests.e2e.receiver import Receiver
from tests.waiting import wait_for

KEY = "gw_trace_key_0123456789abcdef"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_the_trace_runs_from_the_request_to_the_webhook_traceparent(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    receiver = Receiver()
    mock_app = create_mock(MockConfig.fast(strict=True, expected_key="upstream-key"))
    with MockServer(mock_app) as mock, MockServer(receiver.app()) as hooks:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'traces.db'}",
            upstream_url=mock.url,
            aimlapi_key="upstream-key",
            client_api_key=KEY,
            client_webhook_secret=SECRET,
            callback_allowlist=("127.0.0.0/8",),
            poll_policy="fixed",
            poll_interval_s=0.5,
            poll_floor_s=0.2,
            tick_interval_s=0.1,
        )
        with MockServer(create_app(settings, tracer_provider=provider)) as gateway:
            response = httpx.post(
                f"{gateway.url}/v1/jobs",
                json={"prompt": "a horse", "duration": 5, "callback_url": f"{hooks.url}/hook"},
                headers={
                    "Authorization": f"Bearer {KEY}",
                    "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
                },
                timeout=10,
            )
            assert 202 == response.status_code, response.text
            wait_for(lambda: receiver.received, timeout_s=30, what="the webhook")
            wait_for(
                lambda: any(s.name == "gateway.deliver" for s in exporter.get_finished_spans()),
                timeout_s=10,
                what="the delivery span to end",
            )

    with sqlite3.connect(tmp_path / "traces.db") as db:
        stored = db.execute("SELECT traceparent FROM jobs").fetchall()
    assert [(f"00-{TRACE_ID}-{CALLER_SPAN}-01",)] == stored  # stored with the job

    header = receiver.received[0].headers["traceparent"]
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
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    receiver = Receiver()
    mock_app = create_mock(MockConfig.fast(strict=True, expected_key="upstream-key"))
    with MockServer(mock_app) as mock, MockServer(receiver.app()) as hooks:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'no-trace.db'}",
            upstream_url=mock.url,
            aimlapi_key="upstream-key",
            client_api_key=KEY,
            client_webhook_secret=SECRET,
            callback_allowlist=("127.0.0.0/8",),
            poll_policy="fixed",
            poll_interval_s=0.5,
            poll_floor_s=0.2,
            tick_interval_s=0.1,
        )
        with MockServer(create_app(settings, tracer_provider=provider)) as gateway:
            response = httpx.post(
                f"{gateway.url}/v1/jobs",
                json={"prompt": "a horse", "callback_url": f"{hooks.url}/hook"},
                headers={"Authorization": f"Bearer {KEY}", "traceparent": "not-a-trace"},
                timeout=10,
            )
            assert 202 == response.status_code, response.text
            wait_for(lambda: receiver.received, timeout_s=30, what="the webhook")
    assert TRACE_ID not in receiver.received[0].headers["traceparent"]
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
