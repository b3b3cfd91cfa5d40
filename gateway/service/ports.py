"""The service layer's ports: what the use cases need from the outside world, as Protocols.

The adapters (``gateway.upstream``, ``gateway.delivery``, ``gateway.store``) satisfy them without
importing them; tests pass fakes that do the same. The use cases depend on these interfaces, and
the composition root (``gateway.app``) hands them the adapters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from gateway.domain.broker_allowlist import BrokerAllowlist
from gateway.domain.broker_targets import BrokerCredentials
from gateway.domain.delivery import AttemptResult
from gateway.domain.fair_share import Rooms
from gateway.domain.upstream import UpstreamResult
from gateway.store.bounds import DatabaseBounds
from gateway.store.browse import JobFilter, ModelCount
from gateway.store.deliveries import AttemptWrite, DeliveryClaim
from gateway.store.history import JobEventRecord, NewJobEvent
from gateway.store.jobs import FencedJobWrite, InsertOutcome, IntakeRequest
from gateway.store.kept_outputs import KeptObject
from gateway.store.records import (
    AttemptRecord,
    ClientRecord,
    DeliveryRecord,
    JobChange,
    JobRecord,
    NewDelivery,
    SealedCredentials,
    SubscriptionRecord,
)
from gateway.store.retention import DatabaseSize, Removed
from gateway.store.subscriptions import DeliverySettings

W = TypeVar("W", contravariant=True)
O_co = TypeVar("O_co", covariant=True)


class Upstream(Protocol):
    """The AI/ML API's video endpoint (``gateway.upstream.client.UpstreamClient``)."""

    async def submit(self, body: bytes, *, request_id: str) -> UpstreamResult: ...
    async def fetch(self, generation_id: str, *, request_id: str) -> UpstreamResult: ...


class Sender(Protocol):
    """POSTs one webhook attempt (``gateway.delivery.sender.WebhookSender``)."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult: ...


class Destinations(Protocol):
    """Sends one attempt to any destination, an http(s) URL or a broker target
    (``gateway.delivery.destinations.DestinationSender``)."""

    async def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        credentials: BrokerCredentials | None = None,
        broker_allowlist: BrokerAllowlist = ...,
        dedupe_id: str,
    ) -> AttemptResult: ...


class CredentialVault(Protocol):
    """Encrypts broker credentials for the store and decrypts them for a publish
    (``gateway.delivery.credential_vault.FernetVault``)."""

    def seal(self, credentials: BrokerCredentials) -> str: ...
    def open(self, sealed: str) -> BrokerCredentials: ...


class CallbackGuard(Protocol):
    """Refuses a destination URL the gateway must not POST to (``gateway.delivery.guard``):
    raises ``CallbackUrlRejected``."""

    async def check_url(self, url: str) -> None: ...


class HistoryRow(Protocol):
    """One stored change of a job (``gateway.store.history.JobEventRecord``)."""

    @property
    def id(self) -> int: ...
    @property
    def job_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def status(self) -> str: ...
    @property
    def upstream_status(self) -> str | None: ...
    @property
    def polls(self) -> int: ...
    @property
    def data(self) -> dict[str, Any]: ...


# --- the store ---------------------------------------------------------------------------
# What the use cases (and the worker above them) use of the store (``gateway.store.Store``
# satisfies it, without importing it); the records it answers in are the store's own types.


class JobRows(Protocol):
    async def get_job(self, job_id: str, *, client_id: str | None = None) -> JobRecord | None: ...
    async def list_jobs(
        self,
        *,
        client_id: str,
        status: str | None = None,
        limit: int = 50,
        before: tuple[float, str] | None = None,
    ) -> list[JobRecord]: ...
    async def recent_finished(
        self, *, client_id: str, statuses: Sequence[str], models: Sequence[str] | None, limit: int
    ) -> list[JobRecord]: ...
    async def claim_jobs(
        self,
        *,
        now: float,
        limit: int,
        token: str,
        lease_until: float,
        skip_statuses: Sequence[str] = (),
    ) -> list[JobRecord]: ...
    async def update_job(
        self,
        job_id: str,
        token: str,
        change: JobChange,
        *,
        now: float,
        release: bool = True,
        new_deliveries: Sequence[NewDelivery] = (),
        history: Sequence[NewJobEvent] = (),
    ) -> bool: ...
    async def count_jobs_by_status(self) -> dict[str, int]: ...
    async def ended_among(self, job_ids: Sequence[str]) -> list[str]: ...


class DeliveryRows(Protocol):
    async def claim(
        self, *, now: float, limit: int, token: str, lease_until: float, rooms: Rooms
    ) -> DeliveryClaim: ...
    async def defer(
        self, deferrals: Sequence[tuple[str, float]], token: str, *, now: float
    ) -> int: ...
    async def for_job(self, job_id: str) -> list[DeliveryRecord]: ...
    async def attempts_for_job(self, job_id: str) -> list[AttemptRecord]: ...
    async def count_by_state(self) -> dict[str, int]: ...
    async def redeliver(self, job_id: str, *, now: float) -> list[DeliveryRecord]: ...
    async def replay_dead(
        self, *, client_id: str, since: float, until: float, now: float
    ) -> int: ...
    async def insert_operational(
        self, new_deliveries: Sequence[NewDelivery], *, now: float
    ) -> None: ...


class ClientRows(Protocol):
    async def create(self, client: ClientRecord) -> None: ...
    async def ensure(self, client: ClientRecord, *, keep_secret: bool = False) -> ClientRecord: ...
    async def get(self, client_id: str) -> ClientRecord | None: ...
    async def by_key_hash(self, api_key_hash: str) -> ClientRecord | None: ...
    async def list(self) -> list[ClientRecord]: ...
    async def revoke(self, client_id: str, *, now: float) -> ClientRecord | None: ...
    async def configure(
        self,
        client_id: str,
        *,
        broker_allowlist: Sequence[str] | None = None,
        signing_mode: str | None = None,
        ed25519_key: str | None = None,
    ) -> ClientRecord | None: ...
    async def rotate_ed25519_key(
        self, client_id: str, *, new_key: str, previous_until: float
    ) -> ClientRecord | None: ...
    async def rotate_secret(
        self, client_id: str, *, new_secret: str, previous_until: float
    ) -> ClientRecord | None: ...


class Counters(Protocol):
    async def record_duration(self, key: str, seconds: float, *, now: float) -> None: ...
    async def durations(self) -> dict[str, tuple[int, float, float]]: ...


class SubscriptionRows(Protocol):
    async def create(
        self,
        subscription: SubscriptionRecord,
        *,
        limit: int,
        credentials: SealedCredentials | None = None,
    ) -> bool: ...
    async def list_for_client(self, client_id: str) -> list[SubscriptionRecord]: ...
    async def active_for_client(self, client_id: str) -> list[SubscriptionRecord]: ...
    async def delete(self, subscription_id: str, *, client_id: str) -> bool: ...
    async def deactivate(self, subscription_id: str, *, now: float, reason: str) -> bool: ...


class SubscriptionUpkeepRows(Protocol):
    """One subscription of a client, its edits, disabling and enabling, its delivery settings."""

    async def get(self, subscription_id: str, *, client_id: str) -> SubscriptionRecord | None: ...
    async def update(
        self,
        subscription_id: str,
        *,
        client_id: str,
        values: dict[str, Any],
        new_target: bool = False,
        credentials: SealedCredentials | None = None,
    ) -> SubscriptionRecord | None: ...
    async def disable(
        self, subscription_id: str, *, client_id: str, now: float, reason: str
    ) -> SubscriptionRecord | None: ...
    async def enable(
        self, subscription_id: str, *, client_id: str, limit: int
    ) -> SubscriptionRecord | bool | None: ...
    async def disable_if_failing(
        self, subscription_id: str, *, failing_before: float, min_dead: int, now: float
    ) -> SubscriptionRecord | None: ...
    async def delivery_settings(self, ids: Sequence[str]) -> dict[str, DeliverySettings]: ...


class BrokerCredentialRows(Protocol):
    async def for_subscription(self, subscription_id: str) -> SealedCredentials | None: ...
    async def masked(self, subscription_ids: Sequence[str]) -> dict[str, str]: ...


class HistoryRows(Protocol):
    async def list_for_job(
        self, job_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[JobEventRecord]: ...


class Browsing(Protocol):
    """Read-only queries for people browsing (the console)."""

    async def search_jobs(
        self, where: JobFilter, *, limit: int, before: tuple[float, str] | None = None
    ) -> list[JobRecord]: ...
    async def dead_deliveries(
        self, *, client_id: str | None, limit: int
    ) -> list[DeliveryRecord]: ...
    async def count_dead(self, *, client_id: str | None, since: float, until: float) -> int: ...
    async def operational_deliveries(
        self, *, client_id: str | None, limit: int
    ) -> list[DeliveryRecord]: ...
    async def model_counts(self, *, client_id: str | None) -> list[ModelCount]: ...


class ConsoleRows(Protocol):
    """Console sessions and one-time sign-in links, keyed by their tokens' SHA-256."""

    async def start_session(
        self, session_hash: str, *, kind: str, key_hash: str, now: float, expires_at: float
    ) -> None: ...
    async def session_is_live(self, session_hash: str, *, now: float) -> bool: ...
    async def end_session(self, session_hash: str) -> bool: ...
    async def add_link(
        self, link_hash: str, *, kind: str, key_hash: str, now: float, expires_at: float
    ) -> None: ...
    async def take_link(self, link_hash: str, *, now: float) -> tuple[str, str] | None: ...


class KeptOutputs(Protocol):
    """The kept videos' rows (``gateway.store.kept_outputs``)."""

    async def shared_secret(self, name: str, candidate: str, *, now: float) -> str: ...
    async def set_client_retention(self, client_id: str, seconds: float | None) -> bool: ...
    async def expired(self, *, now: float, limit: int) -> list[KeptObject]: ...
    async def mark_removed(self, job_id: str, how: str, *, now: float) -> bool: ...


class Leases(Protocol):
    """Lease housekeeping across every work table."""

    async def renew_leases(self, tokens: Sequence[str], lease_until: float) -> int: ...
    async def release_leases(self, tokens: Sequence[str]) -> None: ...
    async def earliest_due(self, *, now: float, until: float) -> float | None: ...
    async def count_takeovers(self) -> int: ...


class RetentionRows(Protocol):
    """Removing finished jobs' records past their retention (``gateway.store.retention``)."""

    async def remove_finished(
        self, *, finished_before: float, now: float, limit: int
    ) -> Removed: ...
    async def remove_job_less(self, *, settled_before: float, limit: int) -> Removed: ...
    async def count_rows(self) -> dict[str, int]: ...
    async def size(self) -> DatabaseSize: ...


class GroupWrites(Protocol[W, O_co]):
    """A group commit (``gateway.store.group_commit``): answered after its batch commits."""

    async def submit(self, item: W) -> O_co: ...


class JobWrites(GroupWrites[FencedJobWrite, bool], Protocol):
    async def update(
        self, job_id: str, token: str, change: JobChange, *, now: float, release: bool = True
    ) -> bool: ...


class DatabaseFacts(Protocol):
    """What the use cases need to know of the database itself."""

    clock_from_db: bool  # leases and due times follow the database's clock (PostgreSQL)

    @property
    def is_sqlite(self) -> bool: ...
    @property
    def outages(self) -> int: ...
    @property
    def bounds(self) -> DatabaseBounds: ...
    def driver_url(self) -> str: ...
    async def now(self, local: float) -> float: ...
    async def round_trip(self, *, tries: int = 3) -> float: ...
    @property
    def last_round_trip_s(self) -> float | None: ...
    async def prove_commit(self, replica_id: str, *, now: float) -> None: ...


class StorePort(Protocol):
    """Everything the gateway keeps, as the use cases see it."""

    @property
    def db(self) -> DatabaseFacts: ...
    @property
    def jobs(self) -> JobRows: ...
    @property
    def deliveries(self) -> DeliveryRows: ...
    @property
    def clients(self) -> ClientRows: ...
    @property
    def counters(self) -> Counters: ...
    @property
    def subscriptions(self) -> SubscriptionRows: ...
    @property
    def subscription_upkeep(self) -> SubscriptionUpkeepRows: ...
    @property
    def broker_credentials(self) -> BrokerCredentialRows: ...
    @property
    def history(self) -> HistoryRows: ...
    @property
    def browse(self) -> Browsing: ...
    @property
    def console(self) -> ConsoleRows: ...
    @property
    def outputs(self) -> KeptOutputs: ...
    @property
    def work(self) -> Leases: ...
    @property
    def retention(self) -> RetentionRows: ...
    @property
    def intake(self) -> GroupWrites[IntakeRequest, InsertOutcome]: ...
    @property
    def job_writes(self) -> JobWrites: ...
    @property
    def attempt_writes(self) -> GroupWrites[AttemptWrite, bool]: ...
