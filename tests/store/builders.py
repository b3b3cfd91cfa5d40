"""Rows for store tests: clients, jobs and deliveries with fixed, readable values."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec

from gateway.domain.delivery import DeliveryState
from gateway.domain.fair_share import Rooms
from gateway.store import Store
from gateway.store.jobs import Created
from gateway.store.records import (
    AttemptRecord,
    ClientRecord,
    DeliveryChange,
    DeliveryRecord,
    JobChange,
    JobRecord,
    NewDelivery,
    NewJob,
)

T0 = 1_800_000_000.0  # a fixed "now": store tests never read the clock
LEASE_S = 30.0

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


def client_record(
    client_id: str = "cli_a", *, secret: str = "whsec_first", created_at: float = T0
) -> ClientRecord:
    return ClientRecord(
        id=client_id,
        name=f"client {client_id}",
        api_key_hash=f"hash-of-{client_id}".ljust(64, "0"),
        webhook_secret=secret,
        created_at=created_at,
    )


def new_job(client_id: str = "cli_a", *, job_id: str | None = None, **changes: Any) -> NewJob:
    values: dict[str, Any] = {
        "id": job_id or next_id("job"),
        "client_id": client_id,
        "request": {"model": "kling-video/v1.6/standard/text-to-video", "prompt": "a horse"},
        "model": "kling-video/v1.6/standard/text-to-video",
        "resolution": "720p",
        "duration": 5,
        "callback_url": "https://hooks.test/in",
        "metadata": {"order": "42"},
        "events": ["completed", "failed"],
        "deadline_at": T0 + 3600,
    }
    return NewJob(**(values | changes))


async def add_client(store: Store, client_id: str = "cli_a", **changes: Any) -> ClientRecord:
    client = client_record(client_id, **changes)
    await store.clients.create(client)
    return client


async def add_job(
    store: Store, client_id: str = "cli_a", *, now: float = T0, **changes: Any
) -> JobRecord:
    outcome = await store.jobs.insert_job(new_job(client_id, **changes), now=now)
    assert isinstance(outcome, Created)
    return outcome.job


def new_delivery(job: JobRecord, *, event_type: str = "video.completed") -> NewDelivery:
    body = {"type": event_type, "data": {"id": job.id}}
    return NewDelivery(
        id=next_id("msg"),
        job_id=job.id,
        client_id=job.client_id,
        event_type=event_type,
        url=job.callback_url or "https://hooks.test/in",
        payload=msgspec.json.encode(body),
    )


async def add_deliveries(
    store: Store, job: JobRecord, count: int = 1, *, now: float = T0
) -> list[NewDelivery]:
    """Finish ``job`` through a claimed, fenced update that writes ``count`` deliveries."""
    token = next_id("lease")
    claimed = await store.jobs.claim_jobs(
        now=max(now, job.next_run_at or now), limit=1000, token=token, lease_until=now + LEASE_S
    )
    assert job.id in {j.id for j in claimed}
    made = [new_delivery(job) for _ in range(count)]
    landed = await store.jobs.update_job(
        job.id,
        token,
        JobChange(status="completed", next_run_at=None, finished_at=now),
        now=now,
        new_deliveries=made,
    )
    assert landed
    return made


def attempt(
    delivery_id: str, number: int, *, at: float = T0, status_code: int | None = 200
) -> AttemptRecord:
    return AttemptRecord(
        delivery_id=delivery_id,
        attempt=number,
        attempted_at=at,
        status_code=status_code,
        latency_ms=12.5,
        error=None if status_code == 200 else "receiver said no",
        response_excerpt="ok" if status_code == 200 else "nope",
        replica_id="replica-1",
    )


def delivery_change(
    *,
    state: DeliveryState | str = DeliveryState.PENDING,
    attempts: int = 1,
    last_status_code: int | None = None,
    last_error: str | None = None,
    next_run_at: float | None = None,
) -> DeliveryChange:
    """What an attempt changes on its delivery, with the fields a test does not care about
    left at a failed attempt's values."""
    return DeliveryChange(
        state=DeliveryState(state),
        attempts=attempts,
        last_status_code=last_status_code,
        last_error=last_error,
        next_run_at=next_run_at,
    )


# Rooms no claim reaches: the claim is limited only by its ``limit``.
NO_LIMITS = Rooms(per_client=10**6, per_destination=10**6)


async def claim_deliveries(
    store: Store, *, now: float, limit: int, token: str, lease_until: float
) -> list[DeliveryRecord]:
    """Lease due deliveries through the worker's claim, with rooms that hold nothing back."""
    claim = await store.deliveries.claim(
        now=now, limit=limit, token=token, lease_until=lease_until, rooms=NO_LIMITS
    )
    return claim.deliveries
