"""What a database error means, by SQLSTATE class first (``gateway.store.driver_errors``): the
outage classes are a 503 the caller retries, a data error stays the request's (a 4xx), anything
else is a bug — whether the driver's error arrives raw (``asyncpg.connect``), wrapped in
SQLAlchemy's generic ``DBAPIError``, or as SQLite's own."""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from gateway.errors import StoreUnavailable
from gateway.store import Store
from gateway.store.driver_errors import Refusal, from_database, refusal, sqlstate

E = asyncpg.exceptions


def wrapped(error: Exception) -> exc.DBAPIError:
    """As SQLAlchemy's asyncpg adapter raises most of asyncpg's errors: a generic DBAPIError."""
    return exc.DBAPIError("SELECT 1", None, error, hide_parameters=True)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (E.CannotConnectNowError("the database system is starting up"), Refusal.OUTAGE),
        (E.AdminShutdownError("terminating connection"), Refusal.OUTAGE),
        (E.CrashShutdownError("crash"), Refusal.OUTAGE),
        (E.QueryCanceledError("canceling statement due to statement timeout"), Refusal.OUTAGE),
        (E.LockNotAvailableError("canceling statement due to lock timeout"), Refusal.OUTAGE),
        (E.IdleInTransactionSessionTimeoutError("idle in transaction"), Refusal.OUTAGE),
        (E.TooManyConnectionsError("too many clients"), Refusal.OUTAGE),
        (E.DiskFullError("no space left"), Refusal.OUTAGE),
        (E.SerializationError("could not serialize"), Refusal.OUTAGE),
        (E.DeadlockDetectedError("deadlock"), Refusal.OUTAGE),
        (E.ConnectionFailureError("connection failure"), Refusal.OUTAGE),
        (E.ConnectionDoesNotExistError("closed"), Refusal.OUTAGE),
        (E.NumericValueOutOfRangeError("integer out of range"), Refusal.DATA),
        (E.CharacterNotInRepertoireError("invalid byte sequence"), Refusal.DATA),
        (E.UniqueViolationError("duplicate key"), Refusal.DATA),
        (E.ForeignKeyViolationError("no such client"), Refusal.DATA),
        (E.PostgresSyntaxError("syntax error"), Refusal.OTHER),
        (E.UndefinedColumnError("no such column"), Refusal.OTHER),
    ],
)
def test_asyncpg_errors_raw_and_wrapped_by_sqlstate(error: Exception, expected: Refusal) -> None:
    """The same meaning whether asyncpg's error arrives raw or in SQLAlchemy's DBAPIError."""
    assert (expected, expected) == (refusal(error), refusal(wrapped(error)))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (exc.OperationalError("x", None, sqlite3.OperationalError("database or disk is full")),
         Refusal.OUTAGE),
        (exc.OperationalError("x", None, sqlite3.OperationalError("database is locked")),
         Refusal.OUTAGE),
        (exc.IntegrityError("x", None, sqlite3.IntegrityError("UNIQUE constraint failed")),
         Refusal.DATA),
        (sqlite3.DataError("string or blob too big"), Refusal.DATA),
        (exc.TimeoutError("QueuePool limit reached"), Refusal.OUTAGE),
        (ConnectionRefusedError(111, "refused"), Refusal.OUTAGE),
        (TimeoutError(), Refusal.OUTAGE),
        (exc.ProgrammingError("x", None, sqlite3.ProgrammingError("bad binding")), Refusal.OTHER),
        (ValueError("not the database"), Refusal.OTHER),
    ],
)  # fmt: skip
def test_errors_without_a_sqlstate_by_class(error: Exception, expected: Refusal) -> None:
    assert expected == refusal(error)


def test_a_sqlstate_is_found_through_the_cause_chain() -> None:
    outer = RuntimeError("connecting failed")
    outer.__cause__ = E.CannotConnectNowError("starting up")
    assert ("57P03", Refusal.OUTAGE) == (sqlstate(outer), refusal(outer))
    assert from_database(outer)
    assert not from_database(OSError("a file"))


async def test_a_statement_cut_by_statement_timeout_is_an_outage(store: Store) -> None:
    """On PostgreSQL a cancelled statement (57014, which SQLAlchemy raises as a plain
    DBAPIError) is a StoreUnavailable, on the read path and on the write path."""
    if store.db.is_sqlite:
        pytest.skip("PostgreSQL's statement_timeout")

    async def sleep_past_the_timeout(path: Any) -> None:
        async with path() as conn:
            await conn.execute(sa.text("SET LOCAL statement_timeout = 50"))
            await conn.execute(sa.text("SELECT pg_sleep(5)"))

    for path in (store.db.read, store.db.write):
        with pytest.raises(StoreUnavailable):
            await sleep_past_the_timeout(path)
