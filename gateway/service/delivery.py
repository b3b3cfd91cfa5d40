"""Delivering one claimed webhook event: sign afresh, send, record the attempt, decide what next."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from gateway.domain.delivery import AttemptResult, DeliveryState
from gateway.domain.retry import decide
from gateway.observability.tracing import inject_traceparent, job_span
from gateway.service.broker_delivery import broker_route, signed_headers
from gateway.service.runtime import Runtime
from gateway.store.deliveries import AttemptWrite
from gateway.store.records import AttemptRecord, DeliveryChange, DeliveryRecord


async def process_delivery(
    rt: Runtime,
    delivery: DeliveryRecord,
    token: str,
    *,
    on_answer: Callable[[AttemptResult], None] | None = None,
) -> AttemptResult | None:
    """Make one attempt and record it; returns what the destination answered (None when no
    attempt was made). ``on_answer`` hears the answer as soon as it is in, before the attempt
    is written (the worker frees the destination's slot then)."""
    client = await rt.client_keys.by_id(delivery.client_id)
    now = rt.clock()
    if client is None:  # cannot happen with the foreign keys in place; never sign with nothing
        rt.log.error("delivery_without_client")
        return None
    headers = signed_headers(client, delivery.id, now, delivery.payload)
    attempt = delivery.attempts + 1  # the event's next attempt: its count never restarts
    with job_span(
        rt.tracer,
        "gateway.deliver",
        delivery.traceparent,
        attributes={
            "gateway.job_id": delivery.job_id,
            "gateway.event_id": delivery.id,
            "gateway.event_type": delivery.event_type,
            "gateway.attempt": attempt,
        },
    ) as span:
        inject_traceparent(span, headers)  # the receiver continues the trace from this attempt
        route = await broker_route(rt, client, delivery)
        if isinstance(route, AttemptResult):  # a broker target whose credentials do not open
            result = route
        elif route is None:  # an http(s) callback
            result = await rt.sender.send(delivery.url, delivery.payload, headers)
        else:
            result = await rt.destinations.send(
                delivery.url,
                delivery.payload,
                headers,
                credentials=route.credentials,
                broker_allowlist=route.allowlist,
                dedupe_id=route.dedupe_id,
            )
        if result.status_code is not None:
            span.set_attribute("http.response.status_code", result.status_code)
        if result.error:
            span.set_attribute("error.type", result.error)
    if on_answer is not None:
        on_answer(result)
    now = rt.clock()
    # The schedule, though, restarts with a redelivery or a replay: its position is the round's.
    decision = decide(rt.delivery_policy, result, delivery.attempt_in_round, now, rt.rng())
    retry = decision.kind == "retry"
    change = DeliveryChange(
        state=DeliveryState.PENDING if retry else DeliveryState(decision.kind),
        attempts=attempt,
        last_status_code=result.status_code,
        last_error=result.error,
        next_run_at=decision.next_at if retry else None,
    )
    if decision.kind == "delivered":
        change = msgspec.structs.replace(change, delivered_at=now)
    record = AttemptRecord(
        delivery_id=delivery.id,
        attempt=attempt,
        attempted_at=now,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=result.error,
        response_excerpt=result.response_excerpt[:2000] or None,
        replica_id=rt.settings.replica_id,
    )
    # Committed with the attempts of other deliveries finishing meanwhile (one transaction).
    landed = await rt.store.attempt_writes.submit(AttemptWrite(token, record, change, now))
    rt.metrics.deliveries.labels(outcome=decision.kind).inc()
    rt.metrics.delivery_latency.observe(result.latency_ms / 1000.0)
    if not landed:
        rt.metrics.fenced_writes_refused.inc()
    elif decision.kind == "gone" and delivery.subscription_id is not None:
        # 410 Gone from a subscription's target: its owner (e.g. a Zap turned off) wants no more.
        await _deactivate(rt, delivery.subscription_id, delivery.client_id, now)
    rt.log.info(
        "delivery_attempted",
        attempt=attempt,
        status_code=result.status_code,
        error=result.error,
        decision=decision.kind,
        latency_ms=round(result.latency_ms, 1),
    )
    return result


async def _deactivate(rt: Runtime, subscription_id: str, client_id: str, now: float) -> None:
    if await rt.store.subscriptions.deactivate(subscription_id, now=now, reason="gone"):
        rt.log.info(
            "subscription_deactivated",
            subscription_id=subscription_id,
            client_id=client_id,
            reason="gone",
        )
