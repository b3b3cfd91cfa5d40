"""One live gateway per test module, its logs kept off stdout (where the CLI writes)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import structlog

from gateway.testing import LiveStack, live_stack


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=io.StringIO()))
    try:
        with live_stack(tmp_path_factory.mktemp("live") / "live.db") as gateway:
            yield gateway
    finally:
        structlog.configure(**saved)
