"""One live gateway (with the mock upstream and a webhook receiver) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveGateway, live_gateway


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    with live_gateway(tmp_path_factory.mktemp("live")) as gateway:
        yield gateway
