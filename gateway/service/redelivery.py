"""Sending webhooks again: one job's events (redeliver), or dead letters in a window (replay).

The JSON API and the console both call these, so the two answer alike.
"""

from __future__ import annotations

from gateway.clock import iso
from gateway.errors import NothingToRedeliver
from gateway.service.runtime import Runtime
from gateway.store.records import DeliveryRecord, JobRecord


async def redeliver_job(rt: Runtime, job: JobRecord) -> list[DeliveryRecord]:
    """Make a finished job's events due again (same event ids); a 400 when it has none."""
    events = await rt.store.deliveries.redeliver(job.id, now=rt.clock())
    if not events:
        reason = "it has no callback_url" if job.callback_url is None else "not finished yet"
        raise NothingToRedeliver(f"This job has no webhook events to send again ({reason})")
    rt.log.info("job_redelivered", job_id=job.id, client_id=job.client_id, events=len(events))
    return events


async def replay_dead(rt: Runtime, *, client_id: str | None, since: float, until: float) -> int:
    """Make every dead delivery created in [since, until) due again; ``client_id=None`` is every
    client's (the operator's replay, one client at a time)."""
    client_ids = (
        [client_id] if client_id is not None else [c.id for c in await rt.store.clients.list()]
    )
    count = 0
    for one in client_ids:
        count += await rt.store.deliveries.replay_dead(
            client_id=one, since=since, until=until, now=rt.clock()
        )
    rt.log.info(
        "deliveries_replayed", client_id=client_id, count=count, since=iso(since), until=iso(until)
    )
    return count
