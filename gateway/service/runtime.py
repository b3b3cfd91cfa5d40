"""What the use cases need at run time, built once at start-up and passed in (no globals)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from opentelemetry.trace import NoOpTracer, Tracer

from gateway.catalogue import load_catalogue
from gateway.clock import Clock, CorrectedClock
from gateway.delivery.brokers.common import Publisher
from gateway.delivery.destinations import BorrowedSender, DestinationSender
from gateway.domain.broker_targets import BrokerKind
from gateway.domain.model_rules import Rulebook
from gateway.domain.polling import (
    DurationEstimate,
    DurationStats,
    PollPolicy,
    expected_duration,
)
from gateway.domain.retry import DeliveryPolicy
from gateway.observability.metrics import Metrics
from gateway.service.client_keys import ClientKeys
from gateway.service.kept_outputs import KeptOutputs
from gateway.service.lease_sizing import LeaseSizing
from gateway.service.ports import CallbackGuard, CredentialVault, Sender, StorePort, Upstream
from gateway.service.waiting import JobWaiters
from gateway.settings import Settings


@dataclass
class DurationBook:
    """The learned generation times, refreshed from the shared store now and then."""

    stats: dict[str, DurationStats] = field(default_factory=dict)

    def expected(
        self, model: str, resolution: str | None, duration: int | None
    ) -> DurationEstimate:
        return expected_duration(self.stats, model, resolution, duration)

    def replace(self, figures: dict[str, tuple[int, float, float]]) -> None:
        self.stats = {
            key: DurationStats(count=count, mean_s=mean, m2=m2)
            for key, (count, mean, m2) in figures.items()
        }


@dataclass
class Runtime:
    settings: Settings
    store: StorePort
    upstream: Upstream
    sender: Sender
    guard: CallbackGuard  # checks every destination URL a caller hands in (SSRF)
    poll_policy: PollPolicy
    delivery_policy: DeliveryPolicy
    metrics: Metrics
    clock: Clock
    rng: Callable[[], float] = field(default_factory=lambda: random.Random().random)
    durations: DurationBook = field(default_factory=DurationBook)
    log: Any = field(default_factory=lambda: structlog.get_logger("gateway"))
    job_waiters: JobWaiters = field(default_factory=JobWaiters)  # Prefer: wait requests
    # Every catalogue model's rules, compiled once at start-up.
    rulebook: Rulebook = field(default_factory=lambda: Rulebook(load_catalogue()))
    tracer: Tracer = field(default_factory=NoOpTracer)
    # Message brokers as destinations (issue 28): a publisher per kind (none: a broker target
    # is a failed attempt), and what opens the stored credentials (None: no key configured).
    publishers: dict[BrokerKind, Publisher] = field(default_factory=dict)
    vault: CredentialVault | None = None
    # The kept videos' store, copier and links (None: GATEWAY_OUTPUTS=link, nothing is kept).
    outputs: KeptOutputs | None = None
    # The in-memory client-key cache.
    client_keys: ClientKeys = field(init=False)
    # One send for every destination: ``sender`` for http(s), ``publishers`` for brokers.
    destinations: DestinationSender = field(init=False)

    # Whether the lease suits the link to the database (measured round trips).
    lease_sizing: LeaseSizing = field(init=False)

    def __post_init__(self) -> None:
        self.client_keys = ClientKeys(self.store.clients)
        self.lease_sizing = LeaseSizing(self.settings.lease_s, self.metrics)
        self.destinations = DestinationSender(BorrowedSender(self.sender), self.publishers)


async def shared_clock(store: StorePort, settings: Settings, local: Clock) -> Clock:
    """The runtime's clock. On PostgreSQL (``GATEWAY_LEASE_CLOCK=database``, the default) it is
    ``local`` corrected to the database's clock, which all replicas share: claims and lease
    renewals read the database's time itself (``Database.now``) and the work a claim starts
    schedules by the corrected clock. On SQLite (one machine) and with ``local``: ``local``."""
    if store.db.is_sqlite or settings.lease_clock != "database":
        return local
    store.db.clock_from_db = True
    clock = CorrectedClock(local)
    clock.observe(await store.db.now(clock()))
    return clock


async def lease_time(rt: Runtime) -> float:
    """Now, by the clock that leases and due times follow (the database's on PostgreSQL, see
    ``shared_clock``); the runtime's clock is corrected to it on the way."""
    now = await rt.store.db.now(rt.clock())
    if isinstance(rt.clock, CorrectedClock):
        rt.clock.observe(now)
    if rt.store.db.clock_from_db and rt.store.db.last_round_trip_s is not None:
        rt.lease_sizing.observe(rt.store.db.last_round_trip_s)  # one round trip per claim
    return now
