"""The gauges that describe the whole database, read from the store when ``/metrics`` is scraped:
every replica reports the same, shared figures for them."""

from __future__ import annotations

from gateway.domain.delivery import DeliveryState
from gateway.domain.jobs import JobStatus
from gateway.observability.metrics import Metrics
from gateway.service.ports import StorePort


async def refresh_gauges(metrics: Metrics, store: StorePort, *, now: float) -> None:
    """Set the shared gauges from the store: every label, zeros included, so a status that
    emptied reads 0 instead of its last count."""
    jobs = await store.jobs.count_jobs_by_status()
    for status in JobStatus:
        metrics.jobs_by_status.labels(status=status.value).set(jobs.get(status.value, 0))
    events = await store.deliveries.count_by_state()
    for state in DeliveryState:
        metrics.events_by_state.labels(state=state.value).set(events.get(state.value, 0))
    metrics.leases_taken_over.set(await store.work.count_takeovers())
    oldest = await store.work.earliest_due(now=now, until=now)
    metrics.backlog_age.set(0.0 if oldest is None else max(0.0, now - oldest))
