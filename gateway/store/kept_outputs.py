"""The kept videos' rows (issue 26): the shared link-signing key, the per-client retention, and
what the retention sweep and a caller's deletion write.

The copy itself is the job's ``keeping`` step and writes through the job's fenced writes
(``JobStore.update_job``); a removal happens to a finished job, which no lease holds, so it is a
plain conditional write: it lands once (``output_removed`` still NULL), whoever tries twice.
"""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.store.database import Database
from gateway.store.records import could_be_id
from gateway.store.schema import clients, gateway_secrets, jobs

OUTPUT_SIGNING_KEY = "output_signing_key"


class KeptObject(msgspec.Struct, frozen=True):
    """A job's kept objects, as the sweeper deletes them."""

    job_id: str
    key: str | None
    poster_key: str | None


class KeptOutputRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def shared_secret(self, name: str, candidate: str, *, now: float) -> str:
        """The secret ``name`` every replica uses: the stored one, or ``candidate`` stored now
        when there is none yet (the first replica to start wins; the others read it)."""
        query = sa.select(gateway_secrets.c.value).where(gateway_secrets.c.name == name)
        for _ in range(3):
            async with self.db.read() as conn:
                found = (await conn.execute(query)).scalar_one_or_none()
            if found is not None:
                return str(found)
            try:
                async with self.db.write() as conn:
                    await conn.execute(
                        sa.insert(gateway_secrets).values(
                            name=name, value=candidate, created_at=now
                        )
                    )
                return candidate
            except IntegrityError:
                continue  # another replica stored its own first: read that one
        raise RuntimeError(f"the shared secret {name!r} could not be settled")  # pragma: no cover

    async def set_client_retention(self, client_id: str, seconds: float | None) -> bool:
        """Set (or with None, clear) a client's retention of kept videos; False: no client."""
        if not could_be_id(client_id):
            return False
        async with self.db.write() as conn:
            result = await conn.execute(
                sa.update(clients)
                .where(clients.c.id == client_id)
                .values(output_retention_s=seconds)
            )
            if result.rowcount == 1:
                await self.db.notify_client_changed(conn, client_id)
        return bool(result.rowcount == 1)

    async def expired(self, *, now: float, limit: int) -> list[KeptObject]:
        """Kept videos whose retention ended by ``now`` and that are still there."""
        query = (
            sa.select(jobs.c.id, jobs.c.output_key, jobs.c.output_poster_key)
            .where(
                jobs.c.output_expires_at <= now,
                jobs.c.output_kept.is_(True),
                jobs.c.output_removed.is_(None),
            )
            .order_by(jobs.c.output_expires_at)
            .limit(limit)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [KeptObject(job_id=row[0], key=row[1], poster_key=row[2]) for row in rows]

    async def mark_removed(self, job_id: str, how: str, *, now: float) -> bool:
        """Record that the job's kept video is gone (``deleted`` or ``expired``); False when it
        was not kept or is already gone."""
        if not could_be_id(job_id):
            return False
        async with self.db.write() as conn:
            result = await conn.execute(
                sa.update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.output_kept.is_(True),
                    jobs.c.output_removed.is_(None),
                )
                .values(output_removed=how, output_removed_at=now, updated_at=now)
            )
        return bool(result.rowcount == 1)
