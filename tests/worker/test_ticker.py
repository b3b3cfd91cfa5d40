"""The ticker under APScheduler and the real clock: it wakes when work falls due."""

from __future__ import annotations

import dataclasses
import time

import pytest

from gateway.service.intake import accept_job
from gateway.settings import Settings
from gateway.worker.ticker import Worker
from tests.harness import Harness, make_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Regular ticks 60 s apart: only an early wake-up can poll within the test's bound.
    return make_settings(database_url, tick_interval_s=60.0, poll_interval_s=0.5)


async def test_a_poll_due_between_ticks_runs_when_due_not_at_the_next_tick(
    harness: Harness,
) -> None:
    runtime = dataclasses.replace(harness.runtime, clock=time.time)
    request = {"prompt": "a horse"}
    await accept_job(runtime, harness.client, request)
    worker = Worker(runtime)
    worker.start()  # the first tick submits; the poll falls due 0.5 s later, then again
    try:
        # Regular ticks are 60 s apart: without the early wake-up this times out.
        await harness.upstream.wait_for_calls(polls=2, timeout_s=10.0)
        assert 1 == len(harness.upstream.submitted)
    finally:
        await worker.stop(grace_s=1.0)
