"""At most 100 active subscriptions per client, however many creates race: the count and the
insert happen under the client's row lock (both databases)."""

from __future__ import annotations

import asyncio

from gateway.errors import TooManySubscriptions
from gateway.service.subscriptions import (
    MAX_SUBSCRIPTIONS_PER_CLIENT,
    NewSubscription,
    subscribe,
)
from tests.harness import Harness

ALREADY = 90
RACING = 40


async def test_forty_concurrent_creates_at_ninety_end_at_exactly_one_hundred(
    harness: Harness,
) -> None:
    rt, client = harness.runtime, harness.client
    for n in range(ALREADY):
        await subscribe(rt, client, NewSubscription(target_url=f"https://zap.test/before/{n}"))

    outcomes = await asyncio.gather(
        *(
            subscribe(rt, client, NewSubscription(target_url=f"https://zap.test/race/{n}"))
            for n in range(RACING)
        ),
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, TooManySubscriptions)]
    others = [o for o in outcomes if isinstance(o, BaseException) and o not in refused]
    assert [] == others
    active = await rt.store.subscriptions.active_for_client(client.id)
    assert (MAX_SUBSCRIPTIONS_PER_CLIENT, RACING - (MAX_SUBSCRIPTIONS_PER_CLIENT - ALREADY)) == (
        len(active),
        len(refused),
    )


async def test_an_inactive_subscription_frees_its_place(harness: Harness) -> None:
    """Deactivated subscriptions (their target answered 410) do not count."""
    rt, client = harness.runtime, harness.client
    first = None
    for n in range(MAX_SUBSCRIPTIONS_PER_CLIENT):
        record = await subscribe(rt, client, NewSubscription(target_url=f"https://zap.test/{n}"))
        first = first or record
    assert first is not None
    try:
        await subscribe(rt, client, NewSubscription(target_url="https://zap.test/one-more"))
    except TooManySubscriptions:
        pass
    else:
        raise AssertionError("the 101st subscription was accepted")
    await rt.store.subscriptions.deactivate(first.id, now=harness.clock(), reason="gone")
    await subscribe(rt, client, NewSubscription(target_url="https://zap.test/one-more"))
    assert MAX_SUBSCRIPTIONS_PER_CLIENT == len(
        await rt.store.subscriptions.active_for_client(client.id)
    )
