"""The harness fixtures (``gateway.testing.harness``): fakes, a fake clock, both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.settings import Settings
from gateway.testing.harness import Harness, harness_settings, open_harness
from tests.backends import open_empty_store

__all__ = ["Harness", "harness", "make_settings", "settings"]


def make_settings(database_url: str, **changes: Any) -> Settings:
    return harness_settings(database_url, **changes)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return harness_settings(database_url)


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    store = await open_empty_store(settings.database_url)
    try:
        async with open_harness(settings, store) as opened:
            yield opened
    finally:
        await store.close()
