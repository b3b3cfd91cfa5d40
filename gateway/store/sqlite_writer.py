"""SQLite: write transactions run whole in a thread of their own, in one trip from the event loop.

Through SQLAlchemy's async adapter every statement is a trip to aiosqlite's thread and back,
each waiting for a turn of the event loop: a transaction of six statements waits six turns, and
under load (the loop busy parsing the next requests) those turns are what a commit waits for,
not the database (bench/README.md). Intake's group commit instead hands its whole transaction,
a plain function of a ``sqlite3`` connection, to this writer: one trip there, one back.

One connection, opened in the writer's thread and set up by the ``on_connect`` functions (the
engine's settings: WAL, the same ``synchronous``, foreign keys, busy timeout); the caller holds
the database's in-process write lock (``Database.write_in_thread``), so this connection and the
engine's never both write.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

SqliteWork = Callable[[sqlite3.Connection], T]
OnConnect = Callable[[sqlite3.Connection], None]


class SqliteWriter:
    def __init__(self, path: str, *, on_connect: Sequence[OnConnect] = ()) -> None:
        self._path = path
        # Run on each new connection, in order (a function added applies from the next one).
        self.on_connect: list[OnConnect] = list(on_connect)
        self._executor: ThreadPoolExecutor | None = None  # started by the first transaction
        self._conn: sqlite3.Connection | None = None  # opened and used in the thread only

    async def transaction(self, work: SqliteWork[T]) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back if it raises, or
        if the commit fails) in the writer's thread; its result once committed. Raises the
        driver's ``sqlite3.Error``.

        A thread cannot be stopped half-way: cancelled, this returns (cancelled) only once the
        transaction has ended, so the caller's write lock is held as long as SQLite's is."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        ended = loop.run_in_executor(self._executor, self._run, work)
        try:
            return await asyncio.shield(ended)
        except asyncio.CancelledError:
            await asyncio.wait({ended})  # never cancels ``ended``; cancelled again, gives up
            if not ended.cancelled():
                ended.exception()  # retrieved: nobody is left to be told how it failed
            raise

    async def close(self) -> None:
        """Close the connection and end the thread (a later transaction opens a new one)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
            executor.shutdown(wait=True)

    def commit(self, conn: sqlite3.Connection) -> None:
        """The transaction's last statement (a method of its own: tests make it fail)."""
        conn.execute("COMMIT")

    # --- in the writer's thread ----------------------------------------------------------

    def _run(self, work: SqliteWork[T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            self.commit(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # Autocommit mode: the transaction is the writer's BEGIN and COMMIT, nothing implicit.
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for set_up in self.on_connect:
                set_up(conn)
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
