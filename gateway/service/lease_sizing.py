"""Is the lease long enough for this replica's link to the database? Measured at start-up and
at each claim (the database's clock read, one round trip on PostgreSQL); the figure is a
metric, and a lease too short for it is a warning in the log (once each time it becomes too
short) and the metric ``gateway_lease_too_short`` 1. The rule: ``gateway.domain.leases``."""

from __future__ import annotations

import structlog

from gateway.domain.leases import lease_too_short, shortest_safe_lease_s
from gateway.observability.metrics import Metrics

log = structlog.get_logger("gateway.leases")


class LeaseSizing:
    def __init__(self, lease_s: float, metrics: Metrics) -> None:
        self.lease_s = lease_s
        self.metrics = metrics
        self.too_short = False

    def observe(self, round_trip_s: float) -> None:
        """One round trip to the database, measured."""
        self.metrics.db_round_trip.observe(round_trip_s)
        short = lease_too_short(self.lease_s, round_trip_s)
        if short and not self.too_short:
            log.warning(
                "lease_too_short",
                lease_s=self.lease_s,
                round_trip_ms=round(round_trip_s * 1000, 1),
                shortest_safe_lease_s=round(shortest_safe_lease_s(round_trip_s), 1),
            )
        self.too_short = short
        self.metrics.lease_too_short.set(1 if short else 0)
