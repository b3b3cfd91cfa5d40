"""Retention as the use cases see it: the policy the settings make, and when a job ends."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.domain.retention import RetentionPolicy
from gateway.settings import Settings
from gateway.store.records import DeliveryRecord, JobRecord


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        retention_s=settings.job_retention_s, idempotency_ttl_s=settings.idempotency_ttl_s
    )


def removes_at(
    policy: RetentionPolicy, job: JobRecord, deliveries: Sequence[DeliveryRecord]
) -> float | None:
    """When ``job``'s records will be removed, given all its deliveries (None: not yet known)."""
    return policy.removes_at(
        status=job.status,
        finished_at=job.finished_at,
        delivery_states=[delivery.state for delivery in deliveries],
    )
