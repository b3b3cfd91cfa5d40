"""One live gateway (with the mock upstream and a webhook receiver) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.testing import LiveStack, live_stack


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(tmp_path_factory.mktemp("live") / "live.db") as stack:
        yield stack
