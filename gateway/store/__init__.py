"""Persistence: one store over SQLite (embedded default) and PostgreSQL (several replicas)."""

from __future__ import annotations

from gateway.store.browse import BrowseStore
from gateway.store.clients import ClientStore
from gateway.store.counters import CounterStore
from gateway.store.database import Database
from gateway.store.deliveries import AttemptWrite, DeliveryStore
from gateway.store.history import History
from gateway.store.jobs import JobStore
from gateway.store.schema import deliveries, jobs
from gateway.store.subscriptions import SubscriptionStore
from gateway.store.work_queue import WorkQueues
from gateway.store.write_batch import JobWriteBatcher, WriteBatcher


class Store:
    """Everything the gateway keeps, behind one object created at start-up."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.jobs = JobStore(db)
        # The worker's routine fenced job writes, committed together (group commit).
        self.job_writes = JobWriteBatcher(self.jobs)
        self.deliveries = DeliveryStore(db)
        # Webhook attempts and their deliveries' moves, committed together likewise.
        self.attempt_writes: WriteBatcher[AttemptWrite] = WriteBatcher(
            self.deliveries.record_attempts
        )
        self.work = WorkQueues(db, (jobs, deliveries))  # lease housekeeping of both
        self.clients = ClientStore(db)
        self.counters = CounterStore(db)
        self.subscriptions = SubscriptionStore(db)
        self.browse = BrowseStore(db)
        self.history = History(db)

    @classmethod
    async def open(cls, url: str, *, sqlite_synchronous: str = "NORMAL") -> Store:
        """Connect and migrate to the newest schema."""
        db = Database.connect(url, sqlite_synchronous=sqlite_synchronous)
        await db.migrate()
        return cls(db)

    async def close(self) -> None:
        await self.job_writes.close()
        await self.attempt_writes.close()
        await self.db.dispose()


__all__ = [
    "BrowseStore",
    "ClientStore",
    "CounterStore",
    "Database",
    "DeliveryStore",
    "History",
    "JobStore",
    "JobWriteBatcher",
    "Store",
    "SubscriptionStore",
    "WorkQueues",
]
