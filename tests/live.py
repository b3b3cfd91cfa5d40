"""A live gateway for client and CLI tests: the gateway, the mock upstream (fast timings) and a
webhook receiver, each on its own loopback port, with the real ticker and clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from gateway.app import create_app
from gateway.settings import Settings
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer
from tests.e2e.receiver import Receiver

KEY = "gw_live_client_key_0123456789abcdef"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class LiveGateway:
    url: str
    key: str
    secret: str
    receiver: Receiver
    hook_url: str
    settings: Settings
    database_path: Path


@contextmanager
def live_gateway(
    data_dir: Path, *, tracer_provider: TracerProvider | None = None
) -> Iterator[LiveGateway]:
    receiver = Receiver()
    database_path = data_dir / "live.db"
    mock_app = create_mock(MockConfig.fast(strict=True, expected_key="upstream-key"))
    with MockServer(mock_app) as mock, MockServer(receiver.app()) as hooks:
        settings = Settings(
            database_url=f"sqlite:///{database_path}",
            upstream_url=mock.url,
            aimlapi_key="upstream-key",
            client_api_key=KEY,
            client_webhook_secret=SECRET,
            callback_allowlist=("127.0.0.0/8",),
            poll_policy="fixed",
            poll_interval_s=0.5,
            poll_floor_s=0.2,
            tick_interval_s=0.1,
            delivery_schedule=(0.0, 0.5, 1.0),
        )
        with MockServer(create_app(settings, tracer_provider=tracer_provider)) as gateway:
            yield LiveGateway(
                gateway.url, KEY, SECRET, receiver, f"{hooks.url}/hook", settings, database_path
            )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """One live gateway per test module (import this fixture into a conftest)."""
    with live_gateway(tmp_path_factory.mktemp("live")) as gateway:
        yield gateway
