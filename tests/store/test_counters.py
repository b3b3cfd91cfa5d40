"""Shared counters: per-client rate windows and the learned generation durations (Welford)."""

from __future__ import annotations

import asyncio
import statistics

import pytest

from gateway.store import Store
from tests.store.builders import T0


async def test_hits_count_per_window_and_client(store: Store) -> None:
    """Each hit returns the window's count so far; windows and clients count separately."""
    counts = [await store.counters.hit("cli_a", window_start=T0) for _ in range(3)]
    other_client = await store.counters.hit("cli_b", window_start=T0)
    next_window = await store.counters.hit("cli_a", window_start=T0 + 60)
    more_next = await store.counters.hit("cli_a", window_start=T0 + 60)

    assert ([1, 2, 3], 1, 1, 2) == (counts, other_client, next_window, more_next)


async def test_concurrent_hits_count_each_number_once(store: Store) -> None:
    """Twenty simultaneous hits in one window get the counts 1..20, each exactly once."""
    counts = await asyncio.gather(
        *(store.counters.hit("cli_a", window_start=T0) for _ in range(20))
    )

    assert list(range(1, 21)) == sorted(counts)


async def test_record_duration_keeps_mean_and_variance(store: Store) -> None:
    """Folding samples one by one gives the same mean and sample variance as ``statistics``."""
    samples = [42.0, 61.5, 38.25, 90.0, 55.5, 47.75, 120.0]
    for n, seconds in enumerate(samples):
        await store.counters.record_duration("kling/720p/5", seconds, now=T0 + n)
    await store.counters.record_duration("other/1080p/10", 10.0, now=T0)

    durations = await store.counters.durations()
    count, mean, m2 = durations["kling/720p/5"]

    assert len(samples) == count
    assert statistics.mean(samples) == pytest.approx(mean)
    assert statistics.variance(samples) == pytest.approx(m2 / (count - 1))
    assert (1, 10.0, 0.0) == durations["other/1080p/10"]
