"""The SQLite writer: a whole write transaction in its own thread, all or nothing."""

from __future__ import annotations

import sqlite3
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
