"""How long the gateway waits on its database, on every path (issue 31).

The client side (``timeout_s``, ``GATEWAY_DB_TIMEOUT_S``) bounds connecting, each command, a
pool checkout and SQLite's busy wait: a replica cut off from its database answers 503
``store_unavailable`` within it, and recovers by itself when the path heals. The server side
(PostgreSQL's ``statement_timeout``, ``lock_timeout``, ``idle_in_transaction_session_timeout``
and TCP keepalives, set on each of the gateway's sessions) makes a replica that vanishes
mid-transaction release its locks within seconds, and a request that meets a held lock answer
503 quickly rather than wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DatabaseBounds"]


def _ms(seconds: float) -> str:
    """A PostgreSQL duration setting in milliseconds ("0": no limit)."""
    return str(max(0, round(seconds * 1000)))


@dataclass(frozen=True, slots=True)
class DatabaseBounds:
    timeout_s: float = 5.0  # connect, each command, a pool checkout, SQLite's busy wait
    statement_timeout_s: float = 5.0  # PostgreSQL: the server cancels a longer statement
    lock_timeout_s: float = 2.0  # PostgreSQL: the server gives up waiting for a lock
    idle_in_transaction_timeout_s: float = 10.0  # PostgreSQL: ends a session idle in a transaction
    keepalive_idle_s: int = 10  # TCP keepalives: first probe after this much silence
    keepalive_interval_s: int = 3  # then one every this many seconds
    keepalive_count: int = 3  # this many unanswered: the connection is dead

    def server_settings(self) -> dict[str, str]:
        """The PostgreSQL session settings the gateway's connections start with."""
        return {
            "statement_timeout": _ms(self.statement_timeout_s),
            "lock_timeout": _ms(self.lock_timeout_s),
            "idle_in_transaction_session_timeout": _ms(self.idle_in_transaction_timeout_s),
            "tcp_keepalives_idle": str(self.keepalive_idle_s),
            "tcp_keepalives_interval": str(self.keepalive_interval_s),
            "tcp_keepalives_count": str(self.keepalive_count),
        }

    @property
    def ping_timeout_s(self) -> float:
        """A pooled connection's liveness check, and a new connection's attempt: half the bound
        each, so that a checkout through a lost network fails within ``timeout_s``."""
        return self.timeout_s / 2

    def asyncpg_connect_args(
        self, application_name: str | None = None, *, connect_timeout_s: float | None = None
    ) -> dict[str, Any]:
        """``asyncpg.connect``'s arguments: connect and command timeouts, session settings."""
        settings = self.server_settings()
        if application_name is not None:
            settings["application_name"] = application_name
        return {
            "timeout": connect_timeout_s or self.timeout_s,
            "command_timeout": self.timeout_s,
            "server_settings": settings,
        }

    @property
    def sqlite_busy_ms(self) -> int:
        return max(1, round(self.timeout_s * 1000))
