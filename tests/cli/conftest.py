"""One live gateway per test module, its logs kept off stdout (where the CLI writes)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import structlog

from tests.live import LiveGateway, live_gateway


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=io.StringIO()))
    try:
        with live_gateway(tmp_path_factory.mktemp("live")) as gateway:
            yield gateway
    finally:
        structlog.configure(**saved)
