"""Persistence: one store over SQLite (embedded default) and PostgreSQL (several replicas)."""

from __future__ import annotations

from gateway.store import schema
from gateway.store.bounds import DatabaseBounds
from gateway.store.broker_credentials import BrokerCredentialStore
from gateway.store.browse import BrowseStore
from gateway.store.clients import ClientStore
from gateway.store.console import ConsoleStore
from gateway.store.counters import CounterStore
from gateway.store.database import Database
from gateway.store.deliveries import AttemptWrite, DeliveryStore
from gateway.store.group_commit import GroupCommit, JobWrites, intake_commit
from gateway.store.history import History
from gateway.store.jobs import JobStore
from gateway.store.kept_outputs import KeptOutputRows
from gateway.store.retention import RetentionStore
from gateway.store.subscriptions import SubscriptionStore, SubscriptionUpkeep
from gateway.store.work_queue import WorkQueues


class Store:
    """Everything the gateway keeps, behind one object created at start-up."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.jobs = JobStore(db)
        # Group commits (gateway.store.group_commit): intake's jobs, the worker's routine fenced
        # job writes, and webhook attempts with their deliveries' moves.
        self.intake = intake_commit(self.jobs)
        self.job_writes = JobWrites(self.jobs)
        self.deliveries = DeliveryStore(db)
        self.attempt_writes: GroupCommit[AttemptWrite, bool] = GroupCommit(
            self.deliveries.record_attempts
        )
        self.work = WorkQueues(db, (schema.jobs, schema.deliveries))  # lease housekeeping of both
        self.clients = ClientStore(db)
        self.counters = CounterStore(db)
        self.subscriptions = SubscriptionStore(db)
        self.subscription_upkeep = SubscriptionUpkeep(db)
        self.broker_credentials = BrokerCredentialStore(db)
        self.browse = BrowseStore(db)
        self.history = History(db)
        self.console = ConsoleStore(db)
        self.retention = RetentionStore(db)
        self.outputs = KeptOutputRows(db)

    @classmethod
    async def open(
        cls, url: str, *, sqlite_synchronous: str = "NORMAL", bounds: DatabaseBounds | None = None
    ) -> Store:
        """Connect and migrate to the newest schema."""
        db = Database.connect(url, sqlite_synchronous=sqlite_synchronous, bounds=bounds)
        await db.migrate()
        return cls(db)

    async def close(self) -> None:
        # Intake's last batches commit and are answered before the engine closes.
        await self.intake.close()
        await self.job_writes.close()
        await self.attempt_writes.close()
        await self.db.dispose()


__all__ = [
    "AttemptWrite",
    "BrokerCredentialStore",
    "BrowseStore",
    "ClientStore",
    "ConsoleStore",
    "CounterStore",
    "Database",
    "DatabaseBounds",
    "DeliveryStore",
    "GroupCommit",
    "History",
    "JobStore",
    "JobWrites",
    "KeptOutputRows",
    "RetentionStore",
    "Store",
    "SubscriptionStore",
    "SubscriptionUpkeep",
    "WorkQueues",
    "intake_commit",
]
