"""Operational events: news about a client rather than one of its jobs.

``delivery.exhausted`` when one of the client's job events has gone dead (its retry schedule
is spent), ``subscription.disabled`` when a subscription is switched off because its deliveries
have all failed for ``GATEWAY_SUBSCRIPTION_DISABLE_AFTER`` with at least ``MIN_DEAD_TO_DISABLE``
of them dead. Each goes to the client's active subscriptions that name it in their events, as a
delivery without a job (same signing, retries and dead letters). An operational event's own
delivery going dead tells nobody (no chain of events about events).
"""

from __future__ import annotations

import secrets
from typing import Any

from gateway.clock import iso
from gateway.domain.events import (
    DELIVERY_EXHAUSTED,
    SUBSCRIPTION_DISABLED,
    event_body,
    new_event_id,
)
from gateway.domain.subscriptions import wants_operational
from gateway.service.runtime import Runtime
from gateway.store.records import DeliveryChange, DeliveryRecord, NewDelivery, SubscriptionRecord

MIN_DEAD_TO_DISABLE = 10
EXAMPLE_AT = 1_764_000_000.0  # 2025-11-24T16:00:00Z


def exhausted_data(delivery: DeliveryRecord, last: DeliveryChange) -> dict[str, Any]:
    """The ``data`` of ``delivery.exhausted``: which event went dead, where, and why."""
    return {
        "event_id": delivery.id,
        "event_type": delivery.event_type,
        "job_id": delivery.job_id,
        "subscription_id": delivery.subscription_id,
        "attempts": last.attempts,
        "last_status_code": last.last_status_code,
        "last_error": last.last_error,
    }


def disabled_data(sub: SubscriptionRecord) -> dict[str, Any]:
    """The ``data`` of ``subscription.disabled``: which subscription, since when it failed."""
    return {
        "subscription_id": sub.id,
        "target_url": sub.target_url,
        "reason": sub.deactivated_reason,
        "disabled_at": iso(sub.deactivated_at),
        "failing_since": iso(sub.failing_since),
        "dead_deliveries": sub.dead_count,
    }


def example_operational(event_type: str) -> dict[str, Any]:
    """A documented example of an operational event's body (the sample and the test send)."""
    if event_type == SUBSCRIPTION_DISABLED:
        data: dict[str, Any] = {
            "subscription_id": "sub_example0000000000000000",
            "target_url": "https://hooks.example.com/video",
            "reason": "failing",
            "disabled_at": iso(EXAMPLE_AT),
            "failing_since": iso(EXAMPLE_AT - 5 * 86400),
            "dead_deliveries": MIN_DEAD_TO_DISABLE,
        }
    else:
        data = {
            "event_id": "msg_example0000000000000000",
            "event_type": "video.generation.completed",
            "job_id": "job_example00000000000000000",
            "subscription_id": None,
            "attempts": 8,
            "last_status_code": 503,
            "last_error": None,
        }
    return {"type": event_type, "timestamp": iso(EXAMPLE_AT), "data": data}


async def emit(
    rt: Runtime, client_id: str, event_type: str, data: dict[str, Any], *, now: float
) -> int:
    """Deliver an operational event to the client's subscriptions asking for it; how many."""
    subs = [
        sub
        for sub in await rt.store.subscriptions.active_for_client(client_id)
        if wants_operational(sub.events, event_type)
    ]
    if not subs:
        return 0
    payload = event_body(event_type, iso(now) or "", data)
    await rt.store.deliveries.insert_operational(
        [
            NewDelivery(
                id=new_event_id(secrets.token_bytes(16)),
                job_id=None,
                client_id=client_id,
                event_type=event_type,
                url=sub.target_url,
                payload=payload,
                subscription_id=sub.id,
            )
            for sub in subs
        ],
        now=now,
    )
    rt.log.info("operational_event", event_type=event_type, client_id=client_id, sent=len(subs))
    return len(subs)


async def after_dead(
    rt: Runtime, delivery: DeliveryRecord, last: DeliveryChange, *, now: float
) -> None:
    """A delivery went dead (``last``, its final move): tell the client (a job's event), and
    disable its subscription when that has failed long enough."""
    if delivery.job_id is not None:
        data = exhausted_data(delivery, last)
        await emit(rt, delivery.client_id, DELIVERY_EXHAUSTED, data, now=now)
    if delivery.subscription_id is None:
        return
    disabled = await rt.store.subscription_upkeep.disable_if_failing(
        delivery.subscription_id,
        failing_before=now - rt.settings.subscription_disable_after,
        min_dead=MIN_DEAD_TO_DISABLE,
        now=now,
    )
    if disabled is not None:
        rt.log.info(
            "subscription_deactivated",
            subscription_id=disabled.id,
            client_id=disabled.client_id,
            reason="failing",
        )
        await emit(rt, disabled.client_id, SUBSCRIPTION_DISABLED, disabled_data(disabled), now=now)
