"""End to end against the strict mock, in-process: the gateway's client is held to the contract.

The gateway, the mock and the receiver share one fake clock; nothing sleeps (``conftest.World``).
"""

from __future__ import annotations

import json

from tests.e2e.conftest import CALLBACK, KEY, SECRET, World
from tests.models.bodies import models, smallest_body
from tests.webhooks import verify_at_its_timestamp


async def test_submit_poll_complete_and_a_verified_webhook(world: World) -> None:
    """accepted → … → completed; one webhook, verified by standardwebhooks, with the video URL."""
    job_id = await world.submit(metadata={"order": "42"})
    await world.worker.run_until_idle()
    await world.settle(6)
    job = await world.job(job_id)
    assert ("completed", "delivered") == (job["status"], job["delivery"]["state"])
    assert job["video_url"].startswith("http://mock.test/files/")
    assert 1 == len(world.receiver.received)
    received = world.receiver.received[0]
    event = verify_at_its_timestamp(SECRET, received.body, received.headers)
    assert ("video.generation.completed", job_id, {"order": "42"}, job["usage"]) == (
        event["type"],
        event["data"]["id"],
        event["data"]["metadata"],
        event["data"]["usage"],
    )
    world.journal.assert_no_violations()  # the strict mock found nothing to refuse
    assert 1 == len(world.journal.submissions())


async def test_a_failed_generation_sends_a_failed_webhook_with_the_upstream_error(
    world: World,
) -> None:
    """[mock:job_error] ends in `error`: a failed job, its webhook carrying the upstream error."""
    job_id = await world.submit(prompt="a horse [mock:job_error]")
    await world.worker.run_until_idle()
    await world.settle(6)
    event = json.loads(world.receiver.received[0].body)
    assert ("video.generation.failed", "generation_failed", "GenerationError") == (
        event["type"],
        event["data"]["error"]["code"],
        event["data"]["error"]["upstream"]["name"],
    )
    assert "failed" == (await world.job(job_id))["status"]


async def test_upstream_refusal_fails_the_job_with_the_verbatim_message(world: World) -> None:
    """[mock:submit_403] (out of credits) fails at once with the upstream's own words."""
    job_id = await world.submit(prompt="[mock:submit_403] a horse")
    await world.worker.run_until_idle()
    job = await world.job(job_id)
    assert ("failed", "upstream_rejected") == (job["status"], job["error"]["code"])
    assert "You've run out of credits" in job["error"]["message"]


async def test_receiver_500_twice_then_200_is_delivered_on_the_third_attempt(
    world: World,
) -> None:
    """Same event id on all three attempts; each signed afresh; the log shows 500, 500, 200."""
    world.receiver.answers.extend([500, 500])
    job_id = await world.submit()
    await world.worker.run_until_idle()
    await world.settle(12)
    ids = world.receiver.ids()
    assert 3 == len(ids)
    assert 1 == len(set(ids))
    for received in world.receiver.received:
        verify_at_its_timestamp(SECRET, received.body, received.headers)
    log = (
        await world.http.get(
            f"/v1/jobs/{job_id}/deliveries", headers={"Authorization": f"Bearer {KEY}"}
        )
    ).json()
    assert [500, 500, 200] == [a["status_code"] for a in log["attempts"]]


async def test_polls_that_fail_then_recover(world: World) -> None:
    """[mock:poll_fail_2]: two 500s while polling are retried; the job still completes."""
    job_id = await world.submit(prompt="[mock:poll_fail_2] a horse")
    await world.worker.run_until_idle()
    await world.settle(20)
    assert "completed" == (await world.job(job_id))["status"]
    assert 1 == len(world.receiver.received)


# One model of each of these vendors (the first in the catalogue), end to end.
VENDORS = ("Kling AI", "Google", "OpenAI", "ByteDance", "MiniMax", "Runway", "Luma AI", "PixVerse")
ONE_PER_VENDOR = [next(m for m in models() if m.vendor == vendor) for vendor in VENDORS]


async def test_jobs_for_models_of_many_vendors_complete_with_verified_webhooks(
    world: World,
) -> None:
    """Kling, Veo, Sora, Seedance, Hailuo, Runway, Luma, PixVerse: each job's smallest body
    passes the strict mock; every job completes and its webhook verifies."""
    job_ids = {}
    for model in ONE_PER_VENDOR:
        body = {**smallest_body(model), "callback_url": CALLBACK, "metadata": {"m": model.id}}
        job_ids[await world.submit_body(body)] = model.id
    await world.worker.run_until_idle()
    await world.settle(8)
    for job_id, model_id in job_ids.items():
        job = await world.job(job_id)
        assert ("completed", "delivered", model_id) == (
            job["status"],
            job["delivery"]["state"],
            job["request"]["model"],
        )
    events = [verify_at_its_timestamp(SECRET, r.body, r.headers) for r in world.receiver.received]
    assert {(job_id, "video.generation.completed") for job_id in job_ids} == {
        (e["data"]["id"], e["type"]) for e in events
    }
    world.journal.assert_no_violations()
    assert len(VENDORS) == len({m.vendor for m in ONE_PER_VENDOR})


async def test_a_model_reporting_other_status_words_completes(world: World) -> None:
    """[mock:other_status_words]: waiting → active → succeeded; the job completes, the raw word
    is on the job."""
    job_id = await world.submit(prompt="a horse [mock:other_status_words]")
    await world.worker.run_until_idle()
    await world.settle(8)
    job = await world.job(job_id)
    assert ("completed", "succeeded") == (job["status"], job["upstream_status"])
    assert 1 == len(world.receiver.received)
