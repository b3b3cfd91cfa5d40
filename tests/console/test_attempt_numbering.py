"""Attempts are counted over an event's whole life: a redelivery is the event's next attempt
(not "attempt 1" again), in the console's timeline and table and in the API; yet a redelivery
or a replay still gets the retry schedule from its start."""

from __future__ import annotations

import re

from tests.console.conftest import Console
from tests.http.conftest import BOOTSTRAP_KEY


async def _redeliver(console: Console, job_id: str) -> None:
    response = await console.http.post(
        f"/console/jobs/{job_id}/redeliver",
        data={"csrf_token": await console.csrf()},
        follow_redirects=False,
    )
    assert 303 == response.status_code
    await console.gateway.worker.run_until_idle()  # type: ignore[union-attr]


async def test_three_sends_are_attempts_1_2_3_everywhere(console: Console) -> None:
    """Delivered, then redelivered twice: the timeline says attempt 1, 2, 3 (each redelivery
    between), the job page's events table says 3 attempts, and so does the API."""
    job_id = await console.submit()
    await console.finish()
    await console.sign_in()
    await _redeliver(console, job_id)
    await _redeliver(console, job_id)
    assert 3 == len(console.sender.sent)

    html = (await console.http.get(f"/console/jobs/{job_id}")).text
    timeline = html.split('id="timeline"')[1].split("</ol>")[0]
    titles = re.findall(r"<strong>([^<]+)</strong>", timeline)
    assert [
        "Webhook attempt 1",
        "Redelivery requested",
        "Webhook attempt 2",
        "Redelivery requested",
        "Webhook attempt 3",
    ] == titles[titles.index("Webhook attempt 1") :]
    events_table = html.split("<h2>Webhook events</h2>")[1]
    assert ["3"] == re.findall(r"<td>(\d+)</td>", events_table)

    log = (
        await console.http.get(
            f"/v1/jobs/{job_id}/deliveries", headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
        )
    ).json()
    assert ([3], [1, 2, 3]) == (
        [event["attempts"] for event in log["events"]],
        [attempt["attempt"] for attempt in log["attempts"]],
    )


async def test_a_replayed_dead_delivery_gets_the_whole_schedule_again(console: Console) -> None:
    """Dead after the schedule's 8 attempts; replayed into a receiver still failing, its 9th
    attempt is followed by a retry on the schedule's second step (5 s, jittered), not by death:
    the count goes on, the schedule starts over."""
    console.sender.script.extend([500] * 9)
    job_id = await console.submit()
    await console.finish()
    worker = console.gateway.worker
    assert worker is not None
    for _ in range(10):
        console.clock.advance(40_000)
        await worker.run_until_idle()
    store = console.gateway.runtime.store
    (dead,) = await store.deliveries.for_job(job_id)
    assert ("dead", 8) == (dead.state, dead.attempts)

    await console.sign_in()
    page = await console.http.get(
        "/console/deliveries", params={"since": "2020-01-01T00:00", "until": "2090-01-01T00:00"}
    )
    assert re.search(r"<td>8</td>", page.text)  # the dead letters' attempts column
    replayed = await console.http.post(
        "/console/deliveries/replay",
        data={
            "since": "2020-01-01T00:00",
            "until": "2090-01-01T00:00",
            "csrf_token": await console.csrf(),
        },
        follow_redirects=False,
    )
    assert 303 == replayed.status_code
    await worker.run_until_idle()
    (again,) = await store.deliveries.for_job(job_id)
    assert ("pending", 9) == (again.state, again.attempts)
    assert again.next_run_at is not None
    assert 0 < again.next_run_at - console.clock() <= 5 * 1.25  # the second step, jittered
