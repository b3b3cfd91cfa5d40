"""Read-only queries for people browsing the gateway (the console): search, dead letters, models.

``client_id=None`` means every client (the operator's view); a client's view always passes its id.
"""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from gateway.domain.events import OPERATIONAL_EVENT_TYPES
from gateway.store.database import Database
from gateway.store.jobs import newest_first
from gateway.store.records import (
    DeliveryRecord,
    JobRecord,
    could_be_id,
    delivery_from_row,
    job_from_row,
)
from gateway.store.schema import deliveries, jobs


class JobFilter(msgspec.Struct, frozen=True):
    """What the jobs page asks for; ``text`` matches a job id, a generation id or a metadata
    value exactly."""

    client_id: str | None = None
    status: str | None = None
    model: str | None = None
    text: str | None = None


class ModelCount(msgspec.Struct, frozen=True):
    model: str
    status: str
    jobs: int


def _metadata_has_value(text: str) -> sa.ColumnElement[bool]:
    # Metadata is stored as compact JSON: a value is the JSON string right after a colon (a
    # quote inside a string is escaped, so ':"…"' cannot match inside a key or another value).
    encoded = ":" + msgspec.json.encode(text).decode()
    return jobs.c.metadata.contains(encoded, autoescape=True)


class BrowseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search_jobs(
        self, where: JobFilter, *, limit: int, before: tuple[float, str] | None = None
    ) -> list[JobRecord]:
        """Newest first; ``before`` is the (created_at, id) of the last job of the previous page."""
        query = sa.select(jobs)
        if where.client_id is not None:
            query = query.where(jobs.c.client_id == where.client_id)
        if where.status:
            query = query.where(jobs.c.status == where.status)
        if where.model:
            query = query.where(jobs.c.model == where.model)
        if where.text:
            if not could_be_id(where.text):
                return []
            query = query.where(
                sa.or_(
                    jobs.c.id == where.text,
                    jobs.c.generation_id == where.text,
                    _metadata_has_value(where.text),
                )
            )
        query = newest_first(query, before=before, limit=limit)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [job_from_row(row) for row in rows]

    async def dead_deliveries(self, *, client_id: str | None, limit: int) -> list[DeliveryRecord]:
        """Dead letters across jobs, newest first."""
        query = sa.select(deliveries).where(deliveries.c.state == "dead")
        if client_id is not None:
            query = query.where(deliveries.c.client_id == client_id)
        query = query.order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc()).limit(limit)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [delivery_from_row(row) for row in rows]

    async def operational_deliveries(
        self, *, client_id: str | None, limit: int
    ) -> list[DeliveryRecord]:
        """Operational events' deliveries (no job: ``subscription.disabled``,
        ``delivery.exhausted``), newest first (found through ``ix_deliveries_job``)."""
        query = sa.select(deliveries).where(
            deliveries.c.job_id.is_(None),
            deliveries.c.event_type.in_(OPERATIONAL_EVENT_TYPES),
        )
        if client_id is not None:
            query = query.where(deliveries.c.client_id == client_id)
        query = query.order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc()).limit(limit)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [delivery_from_row(row) for row in rows]

    async def count_dead(self, *, client_id: str | None, since: float, until: float) -> int:
        """How many dead deliveries a replay of [since, until) would send again."""
        query = sa.select(sa.func.count()).where(
            deliveries.c.state == "dead",
            deliveries.c.created_at >= since,
            deliveries.c.created_at < until,
        )
        if client_id is not None:
            query = query.where(deliveries.c.client_id == client_id)
        async with self.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def model_counts(self, *, client_id: str | None) -> list[ModelCount]:
        """Jobs per model and status."""
        query = sa.select(jobs.c.model, jobs.c.status, sa.func.count()).group_by(
            jobs.c.model, jobs.c.status
        )
        if client_id is not None:
            query = query.where(jobs.c.client_id == client_id)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [ModelCount(model=m, status=s, jobs=int(n)) for m, s, n in rows]
