"""A job's events fan out to its callback_url and to every matching active subscription.

One delivery row per destination, each with its own event id and the usual guarantees; a
subscription whose target answers 410 is deactivated and receives nothing more.
"""

from __future__ import annotations

from typing import Any

from gateway.domain.delivery import AttemptResult
from gateway.domain.upstream import Generation
from gateway.service.clients import create_client
from gateway.service.subscriptions import NewSubscription, subscribe
from gateway.store.records import SubscriptionRecord
from tests.harness import Harness
from tests.webhooks import verify_at_its_timestamp

DONE = Generation(id="gen_scripted_000000001", status="completed", video_url="https://cdn.test/v")


class SenderByUrl:
    """Answers each URL from its own script (200 once it runs out); records every send."""

    def __init__(self, scripts: dict[str, list[int]]) -> None:
        self.scripts = scripts
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def send(self, url: str, body: bytes, headers: Any) -> AttemptResult:
        self.sent.append((url, body, dict(headers)))
        script = self.scripts.get(url) or []
        status = script.pop(0) if script else 200
        return AttemptResult(status_code=status, latency_ms=1.0)

    def urls(self) -> list[str]:
        return sorted(url for url, _, _ in self.sent)


async def add(harness: Harness, url: str, **fields: Any) -> SubscriptionRecord:
    request = NewSubscription(target_url=url, **fields)
    return await subscribe(harness.runtime, harness.client, request)


async def finish_a_job(harness: Harness, **fields: Any) -> str:
    job = await harness.accept(**fields)
    harness.upstream.poll_script.append(DONE)
    await harness.run()
    await harness.run(advance_s=15)
    return job.id


async def test_an_event_goes_to_the_callback_and_every_matching_subscription(
    harness: Harness,
) -> None:
    """callback_url + 2 matching subscriptions (of 4): 3 signed deliveries, 3 event ids."""
    sender = SenderByUrl({})
    harness.runtime.sender = sender
    await add(harness, "https://zap.test/all")
    await add(harness, "https://zap.test/model", models=["alibaba/happyhorse-1-0"])
    await add(harness, "https://zap.test/other-model", models=["kling/v2"])
    await add(harness, "https://zap.test/progress", events=["video.generation.queued"])
    job_id = await finish_a_job(harness)

    assert [
        "https://hooks.test/in",
        "https://zap.test/all",
        "https://zap.test/model",
        "https://zap.test/progress",
    ] == sender.urls()
    finals = {url: body for url, body, _ in sender.sent if url != "https://zap.test/progress"}
    assert 1 == len(set(finals.values()))  # the same body to each destination
    for url, body, headers in sender.sent:
        event = verify_at_its_timestamp(harness.webhook_secret, body, headers)
        assert job_id == event["data"]["id"], url
    deliveries = await harness.store.deliveries.for_job(job_id)
    assert 4 == len({d.id for d in deliveries})
    assert ["delivered"] * 4 == [d.state for d in deliveries]
    subscribed = [d for d in deliveries if d.subscription_id is not None]
    assert 3 == len(subscribed)


async def test_a_410_deactivates_the_subscription(harness: Harness) -> None:
    """Its target answers 410: the subscription goes inactive; the next job skips it."""
    sender = SenderByUrl({"https://zap.test/gone": [410]})
    harness.runtime.sender = sender
    gone = await add(harness, "https://zap.test/gone")
    await add(harness, "https://zap.test/stays")
    await finish_a_job(harness, callback_url=None)
    subs = {
        s.target_url: s for s in await harness.store.subscriptions.list_for_client(gone.client_id)
    }
    assert (False, "gone", True) == (
        subs["https://zap.test/gone"].active,
        subs["https://zap.test/gone"].deactivated_reason,
        subs["https://zap.test/stays"].active,
    )
    sender.sent.clear()
    await finish_a_job(harness, callback_url=None)
    assert ["https://zap.test/stays"] == sender.urls()


async def test_subscription_deliveries_retry_and_redeliver_like_any_other(
    harness: Harness,
) -> None:
    """A 500 is retried on the schedule; redeliver sends it again with the same event id."""
    sender = SenderByUrl({"https://zap.test/flaky": [500]})
    harness.runtime.sender = sender
    await add(harness, "https://zap.test/flaky")
    job_id = await finish_a_job(harness, callback_url=None)
    await harness.run(advance_s=5)
    ids = [headers["webhook-id"] for _, _, headers in sender.sent]
    assert 2 == len(ids)
    assert 1 == len(set(ids))
    await harness.store.deliveries.redeliver(job_id, now=harness.clock())
    await harness.run()
    assert [ids[0]] * 3 == [headers["webhook-id"] for _, _, headers in sender.sent]


async def test_another_clients_subscription_gets_nothing(harness: Harness) -> None:
    other = await create_client(harness.store, "other", now=harness.clock())
    other_client = await harness.store.clients.get(other.id)
    assert other_client is not None
    sender = SenderByUrl({})
    harness.runtime.sender = sender
    request = NewSubscription(target_url="https://zap.test/theirs")
    await subscribe(harness.runtime, other_client, request)
    await finish_a_job(harness)
    assert ["https://hooks.test/in"] == sender.urls()
