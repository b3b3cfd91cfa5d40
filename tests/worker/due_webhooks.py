"""Jobs finished with their webhooks left due, for the delivery tests of the worker."""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.domain.upstream import Generation
from gateway.service.clients import create_client
from gateway.service.intake import accept_job
from gateway.worker.ticker import Worker
from tests.harness import Harness

COMPLETED_URL = "https://cdn.test/v.mp4"


async def finished_jobs(harness: Harness, a_urls: list[str]) -> tuple[list[Any], Any]:
    """Client A's jobs (one per callback URL) and client B's one, all completed with no
    delivery capacity: their webhooks are left due."""
    rt = harness.runtime
    other = await create_client(harness.store, "b", now=harness.clock())
    b_client = await harness.store.clients.get(other.id)
    assert b_client is not None
    a_jobs = [await harness.accept(callback_url=url) for url in a_urls]
    request = {"prompt": "a horse", "callback_url": "https://b.test/hook"}
    b_job = (await accept_job(rt, b_client, request)).job
    harness.upstream.poll_script.extend(
        [Generation(id="gen_scripted_000000001", status="completed", video_url=COMPLETED_URL)]
        * (len(a_urls) + 1)
    )
    no_deliveries = Worker(
        dataclasses.replace(rt, settings=rt.settings.with_(delivery_concurrency=0))
    )
    await no_deliveries.run_until_idle()
    harness.clock.advance(15)
    await no_deliveries.run_until_idle()
    assert {"completed"} == {(await harness.job(j.id)).status for j in [*a_jobs, b_job]}
    return a_jobs, b_job
