"""What the trace exporter sends and as whom: the standard OpenTelemetry variables
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``), read
through the settings like the endpoint; the headers carry a collector's credentials and are
treated as a secret. A loopback collector receives the export."""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog

from gateway.observability.logging import configure_logging
from gateway.observability.tracing import otlp_tracer_provider, tracer_from
from gateway.settings import SettingsError, load_settings


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str]]]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@contextmanager
def collector() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    received: list[tuple[str, dict[str, str]]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _resource(env: dict[str, str]) -> dict[str, Any]:
    settings = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", **env})
    provider = otlp_tracer_provider(settings)
    assert provider is not None
    try:
        return dict(provider.resource.attributes)
    finally:
        provider.shutdown()


def test_the_service_is_named_as_the_operator_says() -> None:
    """OTEL_SERVICE_NAME names the service; OTEL_RESOURCE_ATTRIBUTES adds attributes (its
    ``service.name`` yields to OTEL_SERVICE_NAME, as the specification says)."""
    resource = _resource(
        {
            "OTEL_SERVICE_NAME": "video-gateway-eu",
            "OTEL_RESOURCE_ATTRIBUTES": (
                "deployment.environment=staging,service.namespace=media,"
                "service.name=ignored,team=video%20platform"
            ),
            "GATEWAY_REPLICA_ID": "replica-7",
        }
    )
    assert ("video-gateway-eu", "staging", "media", "video platform", "replica-7") == (
        resource["service.name"],
        resource["deployment.environment"],
        resource["service.namespace"],
        resource["team"],
        resource["service.instance.id"],
    )


def test_resource_attributes_may_name_the_service_and_the_default_stays() -> None:
    assert (
        "from-attributes"
        == _resource({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes"})["service.name"]
    )
    assert "video-webhook-gateway" == _resource({})["service.name"]


def test_the_export_carries_the_configured_headers() -> None:
    """OTEL_EXPORTER_OTLP_HEADERS reach the collector with every export (its credentials)."""
    with collector() as (url, received):
        settings = load_settings(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": url,
                "OTEL_EXPORTER_OTLP_HEADERS": (
                    "Authorization=Bearer%20collector-token-123,x-team=video"
                ),
            }
        )
        provider = otlp_tracer_provider(settings)
        assert provider is not None
        with tracer_from(provider).start_as_current_span("gateway.test"):
            pass
        assert provider.force_flush(timeout_millis=10_000)
        provider.shutdown()
    assert [("/v1/traces", "Bearer collector-token-123", "video")] == [
        (path, headers.get("authorization"), headers.get("x-team")) for path, headers in received
    ]


def test_the_headers_are_a_secret() -> None:
    """Never in the settings' repr, and masked in every log line (the whole value, and each
    header's value alone)."""
    raw = "Authorization=Bearer%20collector-token-123,x-api-key=key-for-the-collector"
    settings = load_settings({"OTEL_EXPORTER_OTLP_HEADERS": raw})
    assert "collector-token-123" not in repr(settings)
    out = io.StringIO()
    saved = structlog.get_config()
    try:
        configure_logging(log_format="json", secrets=settings.secret_values())
        structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=out))
        structlog.get_logger("t").info(
            "leak", whole=raw, token="Bearer collector-token-123", key="key-for-the-collector"
        )
    finally:
        structlog.configure(**saved)
    line = json.loads(out.getvalue().splitlines()[-1])
    assert [] == [
        value
        for value in (line["whole"], line["token"], line["key"])
        if "collector-token-123" in value or "key-for-the-collector" in value
    ]


@pytest.mark.parametrize("name", ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES"])
def test_a_malformed_list_is_refused_by_name_without_its_value(name: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({name: "no-equals-sign-secret-ish"})
    assert name in str(raised.value)
    assert "secret-ish" not in str(raised.value)
