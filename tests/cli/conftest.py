"""One live gateway per test module, its logs kept off stdout (where the CLI writes)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import structlog

from gateway.testing import LiveStack, live_stack


@contextmanager
def quiet_logs() -> Iterator[None]:
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=io.StringIO()))
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with quiet_logs(), live_stack(tmp_path_factory.mktemp("live") / "live.db") as gateway:
        yield gateway


@pytest.fixture
def keeping(tmp_path: Path) -> Iterator[LiveStack]:
    """A live gateway that keeps videos (the mock's address allowed as their source)."""
    with quiet_logs(), live_stack(tmp_path / "keep.db", outputs="keep") as gateway:
        yield gateway
