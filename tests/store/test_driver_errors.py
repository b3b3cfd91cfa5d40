"""asyncpg's errors on intake's direct path, raised as SQLAlchemy's: a constraint stays an
IntegrityError (group commit retries), an outage or a rolled-back transaction becomes an
OperationalError (a 503 the caller retries), anything else stays an error of its own."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc

from gateway.store.database import pg_error_as_sqlalchemy


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), exc.IntegrityError),
        (asyncpg.exceptions.ForeignKeyViolationError("no such client"), exc.IntegrityError),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), exc.OperationalError),
        (asyncpg.exceptions.AdminShutdownError("terminating"), exc.OperationalError),
        (asyncpg.exceptions.QueryCanceledError("statement timeout"), exc.OperationalError),
        (asyncpg.exceptions.DiskFullError("no space left"), exc.OperationalError),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), exc.OperationalError),
        (asyncpg.exceptions.PostgresSyntaxError("syntax error"), exc.DBAPIError),
    ],
)
def test_each_driver_error_becomes_sqlalchemys(
    error: Exception, expected: type[exc.DBAPIError]
) -> None:
    raised = pg_error_as_sqlalchemy(error)
    assert (expected, error) == (type(raised), raised.orig)
