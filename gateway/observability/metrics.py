"""Prometheus metrics. Counters are bumped where things happen; gauges that describe the whole
database (jobs by state, the backlog) are read from the store when ``/metrics`` is scraped
(``gateway.service.gauges``), so every replica reports the same, shared figures for them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.jobs_accepted = Counter(
            "gateway_jobs_accepted_total", "Jobs accepted with a 202.", registry=r
        )
        self.submissions = Counter(
            "gateway_submissions_total",
            "Upstream submissions by outcome (accepted, rejected, retryable, unknown, ...).",
            ["outcome"],
            registry=r,
        )
        self.polls = Counter(
            "gateway_polls_total",
            "Upstream polls by outcome (the status seen — queued, generating, completed, error,"
            " other — or the failure kind).",
            ["outcome"],
            registry=r,
        )
        self.deliveries = Counter(
            "gateway_deliveries_total",
            "Webhook attempts by decision (delivered, retry, dead, gone).",
            ["outcome"],
            registry=r,
        )
        self.jobs_finished = Counter(
            "gateway_jobs_finished_total",
            "Jobs that reached a terminal status.",
            ["status"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            "gateway_upstream_call_seconds",
            "Upstream call latency.",
            ["call"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.delivery_latency = Histogram(
            "gateway_delivery_attempt_seconds",
            "Webhook attempt latency.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.work_lateness = Histogram(
            "gateway_work_lateness_seconds",
            "How long due work waited before a worker claimed it (due time to claim).",
            ["kind"],
            buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0),
            registry=r,
        )
        self.db_round_trip = Histogram(
            "gateway_db_round_trip_seconds",
            "A round trip to the database (measured at start-up and at each claim).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2),
            registry=r,
        )
        self.lease_too_short = Gauge(
            "gateway_lease_too_short",
            "1 when GATEWAY_LEASE_S is shorter than the database round trip asks "
            "(25 round trips, see the operating guide), else 0.",
            registry=r,
        )
        self.leases_taken_over = Gauge(
            "gateway_leases_taken_over",
            "Claims (all replicas, all time) of work whose lease had expired unreleased.",
            registry=r,
        )
        self.deliveries_deferred = Counter(
            "gateway_deliveries_deferred_total",
            "Claimed deliveries given back without an attempt, by why (circuit_open: the"
            " destination's circuit breaker is open; throttled: a subscription's throttle has no"
            " room yet; claims keep to each destination's cap).",
            ["reason"],
            registry=r,
        )
        self.circuits_open = Gauge(
            "gateway_delivery_circuits_open",
            "Callback destinations whose circuit breaker is open or half-open (this replica).",
            registry=r,
        )
        self.fenced_writes_refused = Counter(
            "gateway_fenced_writes_refused_total",
            "Writes refused because this replica no longer held the lease.",
            registry=r,
        )
        self.worker_busy = Gauge(
            "gateway_worker_in_flight", "Work items this replica is processing now.", registry=r
        )
        self.jobs_by_status = Gauge(
            "gateway_jobs", "Jobs in the database by status.", ["status"], registry=r
        )
        self.events_by_state = Gauge(
            "gateway_webhook_events", "Webhook events by delivery state.", ["state"], registry=r
        )
        self.http_requests = Counter(
            "gateway_http_requests_total",
            "HTTP requests by route template, method and status (unmatched paths: 'unmatched').",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "gateway_http_request_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.backlog_age = Gauge(
            "gateway_backlog_oldest_due_seconds",
            "How long the oldest due, unclaimed item has been waiting (0 when none).",
            registry=r,
        )
        # Retention (gateway.worker.sweeper): refreshed by each sweep, not per scrape.
        self.table_rows = Gauge(
            "gateway_table_rows",
            "Rows per table (jobs, deliveries, delivery_attempts, job_events), counted at the"
            " last retention sweep.",
            ["table"],
            registry=r,
        )
        self.database_bytes = Gauge(
            "gateway_database_bytes",
            "The database's size (SQLite: the main file; PostgreSQL: pg_database_size), at the"
            " last retention sweep.",
            registry=r,
        )
        self.database_free_bytes = Gauge(
            "gateway_database_free_bytes",
            "SQLite: bytes of free pages kept in the file for reuse, at the last retention"
            " sweep (0 on PostgreSQL).",
            registry=r,
        )
        self.retention_removed = Counter(
            "gateway_retention_removed_rows_total",
            "Rows this replica's retention sweeps removed, by table.",
            ["table"],
            registry=r,
        )

        # Kept outputs (issue 26).
        self.output_copies = Counter(
            "gateway_output_copies_total",
            "Copies of finished videos by outcome: kept, retry (with the reason), not_kept.",
            ["outcome", "reason"],
            registry=r,
        )
        self.output_bytes_kept = Counter(
            "gateway_output_bytes_kept_total", "Bytes of videos kept (this replica).", registry=r
        )
        self.outputs_removed = Counter(
            "gateway_outputs_removed_total",
            "Kept videos removed: deleted (by their caller) or expired (retention).",
            ["how"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
