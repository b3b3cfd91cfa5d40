"""Where a job's event goes: the fan-out, in one place.

Each event a job enters goes to its ``callback_url`` (when the job asked for that event) and to
every active subscription of its client that matches (event, model, its payload filter): one
delivery row per destination, written in the same transaction as the status change
(``JobStore.update_job``), each with its own event id and the usual guarantees (signing,
retries, dead letters, redelivery).
"""

from __future__ import annotations

import secrets

import msgspec

from gateway.clock import iso
from gateway.domain.events import EVENT_TYPES, event_body, event_type_for, new_event_id
from gateway.domain.jobs import JobStatus
from gateway.domain.payload_filter import filter_matches
from gateway.domain.subscriptions import subscription_matches
from gateway.service.runtime import Runtime
from gateway.service.views import job_view
from gateway.store.records import JobRecord, NewDelivery


class Destination(msgspec.Struct, frozen=True):
    url: str
    subscription_id: str | None = None  # None: the job's own callback_url


async def destinations_for(rt: Runtime, job: JobRecord, status: JobStatus) -> list[Destination]:
    """Every destination of ``job``'s event for entering ``status`` (none if it has no event)."""
    if status not in EVENT_TYPES:
        return []
    found: list[Destination] = []
    if job.callback_url is not None and status.value in job.events:
        found.append(Destination(url=job.callback_url))
    for sub in await rt.store.subscriptions.active_for_client(job.client_id):
        if subscription_matches(sub.events, sub.models, status, job.model) and filter_matches(
            sub.filter, model=job.model, status=status.value, metadata=job.metadata
        ):
            found.append(Destination(url=sub.target_url, subscription_id=sub.id))
    return found


def event_payload(job: JobRecord, status: JobStatus, now: float) -> bytes:
    """The exact webhook body for ``job`` (already carrying its new values) entering ``status``."""
    data = msgspec.to_builtins(job_view(job, now=now))
    data.pop("delivery", None)  # a webhook does not describe its own delivery
    return event_body(event_type_for(status), iso(now) or "", data)


def deliveries_for(
    job: JobRecord, status: JobStatus, destinations: list[Destination], now: float
) -> list[NewDelivery]:
    """One delivery per destination: the same body, each its own event id."""
    if not destinations:
        return []
    payload = event_payload(job, status, now)
    return [
        NewDelivery(
            id=new_event_id(secrets.token_bytes(16)),
            job_id=job.id,
            client_id=job.client_id,
            event_type=event_type_for(status),
            url=destination.url,
            payload=payload,
            subscription_id=destination.subscription_id,
            traceparent=job.traceparent,
        )
        for destination in destinations
    ]
