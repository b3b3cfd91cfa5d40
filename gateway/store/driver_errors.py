"""What a database error means, whichever driver raised it and however it was wrapped.

The store's one mapping (:func:`refusal`), used by every path into the database (SQLAlchemy's
pool, intake's direct asyncpg and ``sqlite3`` paths, the key lookup), and by the HTTP layer's
last resort:

- **an outage** (the caller retries: 503 ``store_unavailable`` + ``Retry-After``): by
  SQLSTATE, class 08 (connection), 53 (insufficient resources), 57 (operator intervention: a
  restart, ``57P03`` "the database system is starting up", a cancelled statement ``57014``),
  58 (system), ``55P03`` (a lock not available within ``lock_timeout``), ``25P03`` (idle in
  transaction too long), ``40001``/``40P01``/``40003`` (serialization failure, deadlock,
  completion unknown: a retry makes sense); without a SQLSTATE, a lost or refused connection,
  a timeout, a pool exhausted, SQLite's disk full or lock held (its ``OperationalError``);
- **a data error** (a 4xx, the request's values): SQLSTATE class 22 (data exception) and 23
  (integrity constraint); SQLite's ``IntegrityError`` and ``DataError``;
- **anything else** (a bug: a syntax error, a missing column): an error of its own, a 500.

A SQLSTATE is looked for on the error itself (asyncpg's ``sqlstate``, raw as from
``asyncpg.connect``) and on what it wraps (SQLAlchemy's ``orig``, the ``__cause__`` chain):
SQLAlchemy wraps most asyncpg errors in a generic ``DBAPIError`` and passes a connect-time
error through unwrapped, so its classes alone say little.
"""

from __future__ import annotations

import enum
import sqlite3

import asyncpg
from sqlalchemy import exc

__all__ = ["Refusal", "from_database", "refusal", "sqlstate"]


class Refusal(enum.Enum):
    OUTAGE = "outage"
    DATA = "data"
    OTHER = "other"


_OUTAGE_CLASSES = ("08", "53", "57", "58")
_OUTAGE_STATES = frozenset({"55P03", "25P03", "40001", "40P01", "40003"})
_DATA_CLASSES = ("22", "23")

# Without a SQLSTATE: what "the database cannot serve now" looks like.
_OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    exc.DisconnectionError,
    asyncpg.InterfaceError,
    sqlite3.OperationalError,
    OSError,
    TimeoutError,
)
_DATA_TYPES: tuple[type[BaseException], ...] = (
    exc.IntegrityError,
    exc.DataError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
)


def _chain(error: BaseException) -> list[BaseException]:
    """``error``, what it wraps (``orig``), and their causes, each once, nearest first."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < 8:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        pending.extend([orig if isinstance(orig, BaseException) else None, current.__cause__])
    return seen


def sqlstate(error: BaseException) -> str:
    """The SQLSTATE ``error`` carries (or wraps), or "" when it has none."""
    for link in _chain(error):
        state = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(state, str) and len(state) == 5:
            return state.upper()
    return ""


def refusal(error: BaseException) -> Refusal:
    """What ``error`` (raised by a database driver or SQLAlchemy) means for the caller."""
    state = sqlstate(error)
    if state:
        if state.startswith(_OUTAGE_CLASSES) or state in _OUTAGE_STATES:
            return Refusal.OUTAGE
        if state.startswith(_DATA_CLASSES):
            return Refusal.DATA
        return Refusal.OTHER
    chain = _chain(error)
    if any(isinstance(link, _DATA_TYPES) for link in chain):
        return Refusal.DATA
    if any(isinstance(link, _OUTAGE_TYPES) for link in chain):
        return Refusal.OUTAGE
    return Refusal.OTHER


_DRIVER_TYPES: tuple[type[BaseException], ...] = (
    exc.SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
)


def from_database(error: BaseException) -> bool:
    """Whether ``error`` is (or wraps) a database driver's or SQLAlchemy's error, rather than,
    say, an ``OSError`` of a file or a socket of something else."""
    return any(isinstance(link, _DRIVER_TYPES) for link in _chain(error))
