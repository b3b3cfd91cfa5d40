"""The database connection: engine creation, SQLite settings, migrations, write transactions.

One implementation serves both engines. SQLite (the embedded default) is run in WAL mode with a
single writer per process: write transactions take an in-process lock, so a transaction that
reads before it writes can never dead-lock on SQLite's lock upgrade. PostgreSQL needs no such
lock; it gets row locks and ``SKIP LOCKED`` in the claim queries instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from gateway.errors import GatewayError, StoreUnavailable
from gateway.store.bounds import DatabaseBounds
from gateway.store.driver_errors import Refusal, refusal, sqlstate
from gateway.store.sqlite_writer import SqliteWork, SqliteWriter

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every replica running migrations.
_MIGRATION_LOCK_KEY = 7_202_611_25
# PostgreSQL: the channel on which a commit that makes work due now wakes the workers.
WORK_CHANNEL = "gateway_work"
# PostgreSQL: a job reached a terminal status (payload: its id); wakes Prefer: wait requests.
JOB_ENDED_CHANNEL = "gateway_job_ended"
# PostgreSQL: a client was revoked or changed (payload: its id); every replica drops it from its
# in-memory key cache (gateway.service.client_keys).
CLIENT_CHANGED_CHANNEL = "gateway_client_changed"

_BEAT = sa.text("UPDATE replica_heartbeats SET beat_at = :beat_at WHERE replica_id = :replica_id")
# PostgreSQL's clock at this moment (not the transaction's start, which now() would give).
_DB_NOW = sa.text("SELECT extract(epoch from clock_timestamp())")
_PING = sa.text("SELECT 1")
_NOTIFY = sa.text("SELECT pg_notify(:channel, :payload)")
# Intake's batch, on asyncpg's connection (``gateway.store.intake``); the channel is a constant.
NOTIFY_WORK = f"NOTIFY {WORK_CHANNEL}"
_FIRST_BEAT = sa.text(
    "INSERT INTO replica_heartbeats (replica_id, beat_at) VALUES (:replica_id, :beat_at)"
)
# SQLite's readiness proof of room to grow: a row of about as many bytes as a few jobs, written
# and deleted in the heartbeat's transaction (never seen by anyone else).
_ROOM_BYTES = 16_384
_ROOM = sa.text(
    "INSERT INTO replica_heartbeats (replica_id, beat_at) "
    "VALUES (:replica_id || hex(zeroblob(:half)), :beat_at)"
)
_NO_ROOM = sa.text(
    "DELETE FROM replica_heartbeats WHERE replica_id = :replica_id || hex(zeroblob(:half))"
)


class _Outages:
    """Every path into the database: an outage (by SQLSTATE class, or a lost connection, a
    timeout, SQLite's disk full: ``gateway.store.driver_errors``) becomes
    :class:`StoreUnavailable` and is counted (readiness looks again at once after one);
    anything else goes on as it was raised."""

    def __init__(self) -> None:
        self.count = 0

    @contextlib.asynccontextmanager
    async def as_503(self) -> AsyncIterator[None]:
        try:
            yield
        except StoreUnavailable:
            self.count += 1
            raise
        except Exception as error:
            if not isinstance(error, GatewayError) and refusal(error) is Refusal.OUTAGE:
                self.count += 1
                raise StoreUnavailable() from None
            raise


# A ``:name`` parameter (not the second colon of a ``::type`` cast).
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Statement:
    """Plain SQL with ``:name`` parameters, for intake's hot path, built once: ``sql`` as
    written (``sqlite3`` takes it so) and ``positional``, the same with ``$1``, ``$2`` … for
    asyncpg, whose values :meth:`arguments` lists in that order."""

    __slots__ = ("names", "positional", "sql")

    def __init__(self, sql: str) -> None:
        self.sql = sql
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        self.positional = _NAMED_PARAMETER.sub(number, sql)
        self.names = tuple(names)

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        return [parameters[name] for name in self.names]


# The driver's errors in the writer's thread, raised as SQLAlchemy raises them everywhere else
# (so an outage is still a 503 and a key conflict still an IntegrityError to group commit).
_AS_SQLALCHEMY_ERROR: tuple[tuple[type[sqlite3.Error], type[exc.DBAPIError]], ...] = (
    (sqlite3.IntegrityError, exc.IntegrityError),
    (sqlite3.OperationalError, exc.OperationalError),
    (sqlite3.Error, exc.DBAPIError),
)


def _sqlalchemy_error(sql: str, error: sqlite3.Error) -> exc.DBAPIError:
    for driver_class, sqlalchemy_class in _AS_SQLALCHEMY_ERROR:
        if isinstance(error, driver_class):
            return sqlalchemy_class(sql, None, error, hide_parameters=True)
    raise AssertionError("unreachable: sqlite3.Error is the last class")  # pragma: no cover


# asyncpg's errors on the direct path, raised as SQLAlchemy raises them everywhere else, by
# what they mean (``gateway.store.driver_errors``): a constraint an IntegrityError (group
# commit runs a batch again, each request alone), a value refused a DataError; an outage an
# OperationalError (a 503, the caller retries); anything else, a bug, an error of its own.
def pg_error_as_sqlalchemy(error: Exception) -> exc.DBAPIError:
    meaning = refusal(error)
    if meaning is Refusal.DATA:
        if sqlstate(error).startswith("22"):
            return exc.DataError("(intake batch)", None, error, hide_parameters=True)
        return exc.IntegrityError("(intake batch)", None, error, hide_parameters=True)
    if meaning is Refusal.OUTAGE:
        return exc.OperationalError("(intake batch)", None, error, hide_parameters=True)
    return exc.DBAPIError("(intake batch)", None, error, hide_parameters=True)


def async_url(url: str) -> str:
    """Map the plain URLs operators write onto SQLAlchemy's async drivers."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    if url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(synchronous: str, busy_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # First: the WAL switch may have to wait. GATEWAY_DB_TIMEOUT_S bounds the wait.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


_FRESH = "gateway_fresh"  # a connection's pool entry ``info``: not used since it connected


def _ping_on_checkout(engine: AsyncEngine, timeout_s: float) -> None:
    """PostgreSQL: a pooled connection is proved alive with one ``SELECT 1`` (one round trip,
    where SQLAlchemy's pre-ping opens and rolls back a transaction: three) within
    ``timeout_s`` when it is checked out, unless it is fresh; a failed ping invalidates the
    pool and the checkout connects anew (within the connect timeout). SQLAlchemy's documented
    "pessimistic disconnect handling" through the ``checkout`` event."""

    def connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_FRESH, False):
            return
        try:
            dbapi_connection.run_async(lambda conn: conn.fetchval("SELECT 1", timeout=timeout_s))
        except Exception as error:
            # At once: SQLAlchemy's invalidation would first try a graceful close (2 s more
            # through a lost network).
            dbapi_connection.driver_connection.terminate()
            raise exc.InvalidatePoolError() from error

    def lost(context: ExceptionContext) -> None:
        """A command that timed out (asyncpg's ``command_timeout``) or a connection the server
        ended: the connection is done for; terminate it now and let the pool replace it."""
        error = context.original_exception
        if error is None or not _lost(error):
            return
        proxied = context.connection.connection if context.connection is not None else None
        driver = proxied.driver_connection if proxied is not None else None
        if driver is not None:
            driver.terminate()
        context.is_disconnect = True

    event.listen(engine.sync_engine, "connect", connected)
    event.listen(engine.sync_engine, "checkout", checkout)
    event.listen(engine.sync_engine, "handle_error", lost)


def _lost(error: BaseException) -> bool:
    """A command timed out, or the connection is gone: nothing more can be sent on it."""
    return isinstance(error, TimeoutError) or _connection_lost(error)


def _connection_lost(error: BaseException) -> bool:
    return isinstance(error, asyncpg.InterfaceError) or sqlstate(error).startswith(
        ("08", "57P01", "57P02", "57P03")
    )


class Database:
    """An async engine plus the one rule about how to write to it."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        sqlite_synchronous: str = "NORMAL",
        bounds: DatabaseBounds | None = None,
    ) -> None:
        self.engine = engine
        self.bounds = bounds or DatabaseBounds()
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # SQLite: whole write transactions in one trip (intake's group commit), on a connection
        # set up as the engine's are.
        self._writer = None
        if self.is_sqlite:
            pragmas = _sqlite_pragmas(sqlite_synchronous, self.bounds.sqlite_busy_ms)
            self._writer = SqliteWriter(
                str(engine.url.database), on_connect=[lambda conn: pragmas(conn, None)]
            )
        # Whether lease and due times come from the database's clock (PostgreSQL, set by the
        # runtime: ``gateway.service.runtime.shared_clock``); otherwise the caller's clock.
        self.clock_from_db = False
        self._outages = _Outages()
        # The last round trip measured (``now`` on PostgreSQL, ``round_trip``), in seconds.
        self.last_round_trip_s: float | None = None

    @property
    def outages(self) -> int:
        """How many calls the database refused as an outage so far (any path: intake, a read,
        the worker's writes): readiness proves a commit again as soon as this grows."""
        return self._outages.count

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        sqlite_synchronous: str = "NORMAL",
        pool_size: int = 10,
        bounds: DatabaseBounds | None = None,
    ) -> Database:
        """An engine for ``url``, every wait on it bounded by ``bounds`` (connect, command, pool
        checkout, SQLite's busy wait; PostgreSQL's session timeouts and keepalives)."""
        bounds = bounds or DatabaseBounds()
        url = async_url(url)
        if url.startswith("sqlite"):
            if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
                raise ValueError(
                    "use a file for SQLite: an in-memory database is lost per connection"
                )
            # hide_parameters: an error's text never quotes a statement's values (secrets).
            engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=bounds.timeout_s,
                hide_parameters=True,
            )
            synchronous = sqlite_synchronous.upper()
            event.listen(
                engine.sync_engine, "connect", _sqlite_pragmas(synchronous, bounds.sqlite_busy_ms)
            )
            return cls(engine, sqlite_synchronous=synchronous, bounds=bounds)
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=bounds.timeout_s,
            hide_parameters=True,
            connect_args=bounds.asyncpg_connect_args(connect_timeout_s=bounds.ping_timeout_s),
        )
        _ping_on_checkout(engine, bounds.ping_timeout_s)
        return cls(engine, bounds=bounds)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on exit, rolled back on error. An outage raises
        :class:`StoreUnavailable`."""
        if self._write_lock is None:
            async with self._outages.as_503(), self.engine.begin() as conn:
                yield conn
            return
        async with self._outages.as_503(), self._write_lock, self.engine.begin() as conn:
            yield conn

    async def write_in_thread(self, work: SqliteWork[T]) -> T:
        """SQLite only: run ``work`` (a function of a ``sqlite3`` connection) as one write
        transaction in the writer's thread (``gateway.store.sqlite_writer``), in turn with
        :meth:`write`'s transactions. The driver's errors are raised as SQLAlchemy's (an
        outage as :class:`StoreUnavailable`, a constraint as ``IntegrityError``)."""
        assert self._writer is not None, "SQLite only"
        assert self._write_lock is not None
        async with self._outages.as_503(), self._write_lock:
            try:
                return await self._writer.transaction(work)
            except sqlite3.Error as error:
                raise _sqlalchemy_error("(intake batch)", error) from error

    @contextlib.asynccontextmanager
    async def pg_transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """PostgreSQL only: a transaction on a pooled connection's asyncpg connection itself
        (SQLAlchemy's ``driver_connection``), for intake's hot path: each statement one round
        trip, without the adapter's work around it. Committed on exit, rolled back on error;
        the driver's errors are raised as SQLAlchemy's (an outage as
        :class:`StoreUnavailable`). A statement that timed out or a lost connection ends the
        connection at once (no rollback through a network that does not answer) and the pool
        replaces it."""
        assert not self.is_sqlite, "PostgreSQL only"
        async with self._outages.as_503(), self.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            try:
                transaction = driver.transaction()
                await transaction.start()
                try:
                    yield driver
                except BaseException as error:
                    if not _lost(error):
                        await transaction.rollback()
                    raise
                await transaction.commit()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
                if _lost(error):
                    driver.terminate()
                    await conn.invalidate()
                raise pg_error_as_sqlalchemy(error) from error

    @property
    def sqlite_writer(self) -> SqliteWriter | None:
        return self._writer

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._outages.as_503(), self.engine.connect() as conn:
            yield conn

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; safe to run from several replicas at once.

        On PostgreSQL on a connection of its own without the command and statement timeouts
        (a migration that rewrites a big table may take minutes; a second replica waits for
        the first one's lock)."""
        if self.is_sqlite:
            async with self.write() as conn:
                # pysqlite opens no transaction for DDL, so each CREATE would commit alone: a
                # second process would find half a schema and fail. One IMMEDIATE transaction
                # makes the migration atomic and makes the second process wait for it.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                await conn.run_sync(_upgrade)
            return
        unbounded = create_async_engine(
            self.engine.url,
            poolclass=NullPool,
            hide_parameters=True,
            connect_args={"timeout": self.bounds.timeout_s},
        )
        try:
            async with self._outages.as_503(), unbounded.begin() as conn:
                # Held to the end of this transaction: a second replica waits, then finds
                # the schema already at head and does nothing.
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                )
                await conn.run_sync(_upgrade)
        finally:
            await unbounded.dispose()
        # The pool's connections may hold statements prepared against the old schema.
        await self.engine.dispose()

    async def notify_work(self, conn: AsyncConnection) -> None:
        """PostgreSQL: tell listening workers that work is due now (sent when ``conn``'s
        transaction commits, not before). SQLite has one process: nothing to tell."""
        if not self.is_sqlite:
            await conn.execute(_NOTIFY, {"channel": WORK_CHANNEL, "payload": ""})

    async def notify_job_ended(self, conn: AsyncConnection, job_id: str) -> None:
        """PostgreSQL: tell every replica that ``job_id`` ended (on commit). SQLite: one
        process, whose waiters are woken directly."""
        if not self.is_sqlite:
            await conn.execute(_NOTIFY, {"channel": JOB_ENDED_CHANNEL, "payload": job_id})

    async def now(self, local: float) -> float:
        """The time to lease and schedule by: the database's clock when ``clock_from_db`` (one
        clock for every replica, however theirs are skewed), else ``local`` (the caller's clock:
        SQLite serves one machine, and tests drive a fake clock)."""
        if not self.clock_from_db or self.is_sqlite:
            return local
        async with self.read() as conn:
            started = time.perf_counter()
            now = float((await conn.execute(_DB_NOW)).scalar_one())
            self.last_round_trip_s = time.perf_counter() - started
            return now

    async def round_trip(self, *, tries: int = 3) -> float:
        """The shortest of ``tries`` round trips (one ``SELECT 1`` each, on a connection
        already checked out), in seconds."""
        best = float("inf")
        async with self.read() as conn:
            for _ in range(tries):
                started = time.perf_counter()
                await conn.execute(_PING)
                best = min(best, time.perf_counter() - started)
        self.last_round_trip_s = best
        return best

    async def notify_client_changed(self, conn: AsyncConnection, client_id: str) -> None:
        """PostgreSQL: tell every replica that ``client_id`` changed (on commit), so that it
        drops the client from its key cache. SQLite: one process, which drops it itself."""
        if not self.is_sqlite:
            await conn.execute(_NOTIFY, {"channel": CLIENT_CHANGED_CHANNEL, "payload": client_id})

    def driver_url(self) -> str:
        """The URL as a driver (asyncpg) takes it, password included: never log it."""
        return self.engine.url.set(drivername=self.engine.url.get_backend_name()).render_as_string(
            hide_password=False
        )

    async def prove_commit(self, replica_id: str, *, now: float) -> None:
        """Commit one small write (this replica's heartbeat row): ``SELECT 1`` passes on a full
        disk or a read-only database; this does not. Raises :class:`StoreUnavailable`.

        On SQLite the heartbeat alone rewrites a page the file already has (and fits in the WAL
        it already has): it passes on a full disk while intake's new rows fail. So the same
        transaction also writes and deletes a row of ``_ROOM_BYTES`` (new pages, as intake's
        inserts need), and fails as they would."""
        async with self.write() as conn:
            updated = await conn.execute(_BEAT, {"replica_id": replica_id, "beat_at": now})
            if updated.rowcount == 0:
                await conn.execute(_FIRST_BEAT, {"replica_id": replica_id, "beat_at": now})
            if self.is_sqlite:
                room = {"replica_id": f"{replica_id}#room", "half": _ROOM_BYTES // 2}
                await conn.execute(_ROOM, {**room, "beat_at": now})
                await conn.execute(_NO_ROOM, room)

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        await self.engine.dispose()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: sa.Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
