"""Subscriptions that look after themselves, through the worker on both databases: the payload
filter, custom headers on every delivery, the throttle, the test send, disabling (by hand and
for failing, with the operational events) and enabling again.

The retry schedule here is one attempt (a failure is dead at once) and the disabling period
100 s, so that a test makes the ten dead deliveries and crosses the period in a few steps.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from gateway.domain.addresses import CallbackUrlRejected
from gateway.domain.delivery import AttemptResult
from gateway.domain.upstream import Generation
from gateway.errors import CallbackRejected
from gateway.service.operational import MIN_DEAD_TO_DISABLE
from gateway.service.subscription_upkeep import SubscriptionEdit, SubscriptionUpkeep
from gateway.service.subscriptions import NewSubscription, subscribe
from gateway.settings import Settings
from gateway.store.records import SubscriptionRecord
from tests.harness import Harness, make_settings
from tests.webhooks import verify_at_its_timestamp

DONE = Generation(id="gen_scripted_000000001", status="completed", video_url="https://cdn.test/v")
DEAD_URL = "https://dead.test/hook"
OPS_URL = "https://ops.test/notices"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        delivery_schedule=(0.0,),
        delivery_breaker_failures=1000,
        subscription_disable_after=100.0,
    )


class Receivers:
    """Answers 500 at the failing URLs and 200 elsewhere; records every send."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def send(self, url: str, body: bytes, headers: Any) -> AttemptResult:
        self.sent.append((url, body, dict(headers)))
        return AttemptResult(status_code=500 if url in self.failing else 200, latency_ms=1.0)

    def to(self, url: str) -> list[dict[str, Any]]:
        return [json.loads(body) for sent_to, body, _ in self.sent if sent_to == url]


def receivers(harness: Harness, *failing: str) -> Receivers:
    sender = Receivers(set(failing))
    harness.runtime.sender = sender
    return sender


async def add(harness: Harness, url: str, **fields: Any) -> SubscriptionRecord:
    return await subscribe(harness.runtime, harness.client, NewSubscription(url, **fields))


async def finish_a_job(harness: Harness, **fields: Any) -> str:
    job = await harness.accept(**fields)
    harness.upstream.poll_script.append(DONE)
    await harness.run()
    await harness.run(advance_s=15)
    return job.id


def upkeep(harness: Harness) -> SubscriptionUpkeep:
    return SubscriptionUpkeep(harness.runtime)


async def test_the_filter_lets_through_only_matching_events(harness: Harness) -> None:
    """Equality on metadata, model and status: events that do not match create no delivery."""
    sender = receivers(harness)
    await add(harness, "https://zap.test/prod", filter={"metadata.env": "prod"})
    await add(harness, "https://zap.test/kling", filter={"model": ["kling/v2"]})
    await add(harness, "https://zap.test/failed", filter={"status": "failed"})
    await add(harness, "https://zap.test/any")
    job_id = await finish_a_job(harness, metadata={"env": "prod"}, callback_url=None)

    assert ["https://zap.test/any", "https://zap.test/prod"] == sorted(u for u, _, _ in sender.sent)
    assert 2 == len(await harness.store.deliveries.for_job(job_id))


async def test_custom_headers_go_with_every_delivery_and_the_signature_wins(
    harness: Harness,
) -> None:
    sender = receivers(harness)
    sub = await add(
        harness, "https://zap.test/h", headers={"Authorization": "Bearer s3cret", "X-Team": "a"}
    )
    await finish_a_job(harness, callback_url=None)
    await upkeep(harness).send_test(sub.id, harness.client)
    await harness.run()

    assert 2 == len(sender.sent)
    for _, body, headers in sender.sent:
        assert ("Bearer s3cret", "a") == (headers["Authorization"], headers["X-Team"])
        verify_at_its_timestamp(harness.webhook_secret, body, headers)


async def test_the_test_send_delivers_the_sample_through_the_usual_path(harness: Harness) -> None:
    """No job yet: the documented example of the first event asked for, signed, as a delivery
    without a job; a disabled subscription can be tested too."""
    sender = receivers(harness)
    sub = await add(harness, "https://zap.test/t", events=["failed"])
    await upkeep(harness).disable(sub.id, client_id=harness.client.id)
    sent = await upkeep(harness).send_test(sub.id, harness.client)
    await harness.run()

    [(url, body, headers)] = sender.sent
    event = verify_at_its_timestamp(harness.webhook_secret, body, headers)
    assert ("https://zap.test/t", "video.generation.failed", sent.event_id) == (
        url,
        event["type"],
        headers["webhook-id"],
    )
    assert "failed" == event["data"]["status"]


async def test_a_disabled_subscription_gets_no_new_deliveries_until_enabled(
    harness: Harness,
) -> None:
    sender = receivers(harness)
    sub = await add(harness, "https://zap.test/d")
    view = await upkeep(harness).disable(sub.id, client_id=harness.client.id)
    assert (False, "disabled") == (view.active, view.deactivated_reason)
    await finish_a_job(harness, callback_url=None)
    assert [] == sender.sent

    enabled = await upkeep(harness).enable(sub.id, client_id=harness.client.id)
    assert (True, None) == (enabled.active, enabled.deactivated_reason)
    await finish_a_job(harness, callback_url=None)
    assert ["https://zap.test/d"] == [url for url, _, _ in sender.sent]


async def test_a_subscription_failing_long_enough_is_disabled_and_the_client_told(
    harness: Harness,
) -> None:
    """Every delivery failed for longer than the period with 10 dead: disabled (reason
    ``failing``), and ``subscription.disabled`` goes to the subscription asking for it. A job's
    event going dead sends ``delivery.exhausted`` there too. Before both conditions hold,
    nothing is disabled; enabling it forgets the failure state."""
    sender = receivers(harness, DEAD_URL, "https://hooks.test/in")
    failing = await add(harness, DEAD_URL)
    await add(harness, OPS_URL, events=["subscription.disabled", "delivery.exhausted"])
    tools = upkeep(harness)

    job_id = await finish_a_job(harness)  # callback and subscription both go dead
    exhausted = sender.to(OPS_URL)
    assert ["delivery.exhausted", "delivery.exhausted"] == [e["type"] for e in exhausted]
    assert {job_id} == {e["data"]["job_id"] for e in exhausted}
    assert {failing.id, None} == {e["data"]["subscription_id"] for e in exhausted}
    assert {500} == {e["data"]["last_status_code"] for e in exhausted}

    state = await tools.get(failing.id, client_id=harness.client.id)
    assert state.active
    assert state.failing_since is not None

    # Past the period, but fewer than 10 dead: still on.
    harness.clock.advance(150)
    for _ in range(MIN_DEAD_TO_DISABLE - 2):
        await tools.send_test(failing.id, harness.client)
        await harness.run()
    assert (await tools.get(failing.id, client_id=harness.client.id)).active
    assert [] == [e for e in sender.to(OPS_URL) if e["type"] == "subscription.disabled"]

    # The tenth dead delivery: disabled, and told.
    await tools.send_test(failing.id, harness.client)
    await harness.run()
    await harness.run()
    view = await tools.get(failing.id, client_id=harness.client.id)
    assert (False, "failing") == (view.active, view.deactivated_reason)
    [notice] = [e for e in sender.to(OPS_URL) if e["type"] == "subscription.disabled"]
    assert (failing.id, DEAD_URL, "failing", MIN_DEAD_TO_DISABLE) == (
        notice["data"]["subscription_id"],
        notice["data"]["target_url"],
        notice["data"]["reason"],
        notice["data"]["dead_deliveries"],
    )
    [(_, body, headers)] = [s for s in sender.sent if b"subscription.disabled" in s[1]]
    verify_at_its_timestamp(harness.webhook_secret, body, headers)

    # The operational events are listed for the console.
    listed = await harness.runtime.store.browse.operational_deliveries(
        client_id=harness.client.id, limit=10
    )
    assert {"subscription.disabled", "delivery.exhausted"} == {d.event_type for d in listed}
    assert {None} == {d.job_id for d in listed}

    # No more events for it; enabled again, its failure state is forgotten.
    before = len(sender.to(DEAD_URL))
    await finish_a_job(harness, callback_url=None)
    assert before == len(sender.to(DEAD_URL))
    again = await tools.enable(failing.id, client_id=harness.client.id)
    assert (True, None, None) == (again.active, again.failing_since, again.deactivated_reason)
    sender.failing.clear()
    await finish_a_job(harness, callback_url=None)
    assert before + 1 == len(sender.to(DEAD_URL))


async def test_a_success_clears_the_failure_state(harness: Harness) -> None:
    sender = receivers(harness, DEAD_URL)
    sub = await add(harness, DEAD_URL)
    tools = upkeep(harness)
    first_failure = harness.clock()
    for _ in range(3):
        await tools.send_test(sub.id, harness.client)
        await harness.run(advance_s=10)
    record = await harness.store.subscription_upkeep.get(sub.id, client_id=harness.client.id)
    assert record is not None
    # Since the first failure (later ones leave it), and each dead one counted.
    assert (3, first_failure + 10) == (record.dead_count, record.failing_since)
    sender.failing.clear()
    await tools.send_test(sub.id, harness.client)
    await harness.run()
    record = await harness.store.subscription_upkeep.get(sub.id, client_id=harness.client.id)
    assert record is not None
    assert (0, None) == (record.dead_count, record.failing_since)


async def test_the_throttle_spaces_a_subscriptions_attempts_and_holds_back_no_one_else(
    harness: Harness,
) -> None:
    """2 per second on one subscription: of 5 due at once, one goes now and one each half
    second after; another subscription's 5 all go at once (the throttled ones took no slot)."""
    sender = receivers(harness)
    slow = await add(harness, "https://zap.test/slow", throttle=2.0)
    fast = await add(harness, "https://zap.test/fast")
    tools = upkeep(harness)
    for _ in range(5):
        await tools.send_test(slow.id, harness.client)
        await tools.send_test(fast.id, harness.client)

    def counts() -> tuple[int, int]:
        return len(sender.to("https://zap.test/slow")), len(sender.to("https://zap.test/fast"))

    await harness.run()
    assert (1, 5) == counts()
    await harness.run(advance_s=0.25)
    assert (1, 5) == counts()
    seen = []
    for _ in range(4):
        await harness.run(advance_s=0.25)
        seen.append(counts()[0])
        await harness.run(advance_s=0.25)
    assert [2, 3, 4, 5] == seen


async def test_an_edit_applies_to_the_next_events(harness: Harness) -> None:
    sender = receivers(harness)
    sub = await add(harness, "https://zap.test/old", events=["completed"])
    tools = upkeep(harness)
    edit = SubscriptionEdit(
        target_url="https://zap.test/new", headers={"X-Key": "k1"}, filter={"model": ["x/y"]}
    )
    view = await tools.edit(sub.id, harness.client, edit)
    assert ("https://zap.test/new", {"X-Key": "********"}, {"model": ["x/y"]}) == (
        view.target_url,
        view.headers,
        view.filter,
    )
    await finish_a_job(harness, callback_url=None)
    assert [] == sender.sent  # the filter leaves the default model out
    cleared = await tools.edit(sub.id, harness.client, SubscriptionEdit(filter={}))
    assert cleared.filter is None
    await finish_a_job(harness, callback_url=None)
    [(url, _, headers)] = sender.sent
    assert ("https://zap.test/new", "k1") == (url, headers["X-Key"])
    stored = await harness.store.subscription_upkeep.get(sub.id, client_id=harness.client.id)
    assert stored is not None
    assert {"X-Key": "k1"} == stored.headers
    assert b"k1" not in msgspec.json.encode(cleared)


class RefusingGuard:
    """Refuses one host, as the SSRF guard refuses a private address."""

    async def check_url(self, url: str) -> None:
        if "blocked.test" in url:
            raise CallbackUrlRejected("resolves to a private address")


async def test_an_edit_checks_the_target_as_a_create_does(harness: Harness) -> None:
    harness.runtime.guard = RefusingGuard()
    sub = await add(harness, "https://zap.test/ok")
    with pytest.raises(CallbackRejected) as on_create:
        await add(harness, "https://blocked.test/x")
    with pytest.raises(CallbackRejected) as on_edit:
        await upkeep(harness).edit(
            sub.id, harness.client, SubscriptionEdit(target_url="https://blocked.test/x")
        )
    assert on_create.value.details == on_edit.value.details
    assert ["target_url"] == [d["field"] for d in on_edit.value.details]
    kept = await upkeep(harness).get(sub.id, client_id=harness.client.id)
    assert "https://zap.test/ok" == kept.target_url
