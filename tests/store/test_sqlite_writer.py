"""The SQLite writer: a whole write transaction in its own thread, all or nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.store.sqlite_writer import SqliteWriter


def table_rows(path: Path) -> list[tuple[int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT n FROM t ORDER BY n").fetchall()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "writer.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    return path


async def test_work_that_raises_leaves_nothing_and_the_next_transaction_commits(
    database: Path,
) -> None:
    writer = SqliteWriter(str(database))

    def insert_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (n) VALUES (1)")
        conn.execute("INSERT INTO t (n) VALUES (1)")  # the primary key refuses it

    try:
        with pytest.raises(sqlite3.IntegrityError):
            await writer.transaction(insert_then_fail)
        assert [] == table_rows(database)
        assert 2 == await writer.transaction(
            lambda conn: conn.execute("INSERT INTO t (n) VALUES (2)").rowcount + 1
        )
        assert [(2,)] == table_rows(database)
    finally:
        await writer.close()


async def test_a_failed_commit_is_rolled_back(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SqliteWriter(str(database))

    def full_disk(_conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(writer, "commit", full_disk)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await writer.transaction(lambda conn: conn.execute("INSERT INTO t (n) VALUES (3)"))
        monkeypatch.undo()
        await writer.transaction(lambda conn: conn.execute("INSERT INTO t (n) VALUES (4)"))
        assert [(4,)] == table_rows(database)
    finally:
        await writer.close()


async def test_each_new_connection_is_set_up_and_close_starts_a_new_one(database: Path) -> None:
    writer = SqliteWriter(
        str(database), on_connect=[lambda conn: conn.execute("PRAGMA foreign_keys=ON")]
    )

    def foreign_keys(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA foreign_keys").fetchone()[0])

    try:
        assert 1 == await writer.transaction(foreign_keys)
        writer.on_connect.append(lambda conn: conn.execute("PRAGMA foreign_keys=OFF"))
        assert 1 == await writer.transaction(foreign_keys)  # the open connection is kept
        await writer.close()
        assert 0 == await writer.transaction(foreign_keys)  # a new one, set up by both
    finally:
        await writer.close()


async def test_a_cancelled_caller_returns_only_once_its_transaction_has_ended(
    database: Path,
) -> None:
    """The thread's transaction cannot be stopped half-way. Were a cancelled caller to return at
    once, it would let go of the database's write lock while the writer still held SQLite's, and
    the next write would wait on SQLite's busy timeout (10 s) instead of the lock."""
    writer = SqliteWriter(str(database))
    started, release = threading.Event(), threading.Event()

    def slow_insert(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (n) VALUES (5)")
        started.set()
        release.wait(timeout=10)

    try:
        caller = asyncio.ensure_future(writer.transaction(slow_insert))
        await asyncio.to_thread(started.wait, 10)
        caller.cancel()
        for _ in range(20):  # turns of the loop, not time: a plain await ends in one or two
            await asyncio.sleep(0)
        assert not caller.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, timeout=10)
        assert [(5,)] == table_rows(database)  # the transaction ended (committed) before
    finally:
        release.set()
        await writer.close()
