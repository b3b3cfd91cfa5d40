"""The asyncio client against a live gateway: the same calls, awaited."""

from __future__ import annotations

import pytest

from gateway.testing import LiveStack
from gateway_client import AsyncClient, NotFound, WaitTimeout


async def test_create_wait_list_and_deliveries(live: LiveStack) -> None:
    """create → watch until the end → the job in the listing → its delivered webhook."""
    async with AsyncClient(live.url, live.key) as client:
        job = await client.create_job(
            "alibaba/happyhorse-1-0", fields={"prompt": "async horse"}, callback_url=live.hook_url
        )
        seen = [state.status async for state in client.watch(job.id, timeout_s=30)]
        assert "completed" == seen[-1]
        assert all(status != "completed" for status in seen[:-1])
        done = await client.get_job(job.id)
        assert done.video_url
        listed = [j.id async for j in client.iter_jobs(status="completed", page_size=1)]
        assert job.id in listed
        assert (await client.wait(job.id)).finished
        log = await client.deliveries(job.id)
        assert ["video.generation.completed"] == [e.event_type for e in log.events]
        with pytest.raises(NotFound):
            await client.deliveries("job_doesnotexist")


async def test_wait_times_out(live: LiveStack) -> None:
    async with AsyncClient(live.url, live.key) as client:
        job = await client.create_job(prompt="[mock:stuck_generating] forever")
        with pytest.raises(WaitTimeout):
            await client.wait(job.id, timeout_s=0.5)
