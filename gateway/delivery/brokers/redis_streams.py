"""Publishing to a Redis Stream with ``redis`` (redis-py): one ``XADD`` per event.

**What the reply means, and what it does not.** Redis answers ``XADD`` with the new entry's id
once the entry is in the stream, in memory. That is all a Redis confirm says:

- a Redis without persistence (no RDB snapshots, no AOF; this machine's Redis keeps nothing on
  disk) loses every entry on a restart; with ``appendfsync everysec`` the last second can go;
- a stream capped by length or age (``XADD … MAXLEN``/``MINID`` by a producer, or ``XTRIM``)
  drops its oldest entries whether or not a consumer has read them;
- on a replica set, the reply comes before the replicas have the entry (``WAIT`` is not used),
  so a failover can lose it.

The gateway never trims. ``XADD`` makes the stream if it does not exist (a consumer reading
with ``XREAD`` needs nothing more; one using a consumer group makes the group). A key that is
not a stream is ``broker_refused``.

**Fields.** Each header is a field of the same name (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``, ``content-type``) and the exact body bytes are the field ``body``, so a
consumer verifies an entry as an HTTP receiver would (headers = the other fields).

**Connections.** A pool per server, database and credentials (up to
``max_connections_per_broker``, waiting at most ``publish_timeout_s`` for a free one), made to
the checked address; redis-py's own retries are off (a failure is the attempt's, and the
delivery's retry schedule decides). ``rediss``: TLS, the certificate checked against the
address (a ``rediss`` target names its broker by IP address).
"""

from __future__ import annotations

import contextlib
from typing import Any

import redis.asyncio as redis
from redis import exceptions as errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.delivery.brokers.base import BrokerPublisher
from gateway.delivery.brokers.common import BrokerMessage, PublishFailed
from gateway.domain.addresses import IPAddress
from gateway.domain.broker_targets import BrokerCredentials, BrokerTarget

CLIENT_NAME = "video-webhook-gateway"
BODY_FIELD = "body"


def entry_fields(message: BrokerMessage) -> dict[str, bytes | str]:
    """The stream entry: every header as a field, then the body (a header cannot replace it)."""
    return {**message.headers, BODY_FIELD: message.body}


class RedisStreamPublisher(BrokerPublisher["redis.Redis"]):
    """Publishes to ``redis://`` and ``rediss://`` targets."""

    broker_name = "Redis"

    async def _connect(
        self, target: BrokerTarget, credentials: BrokerCredentials | None, ip: IPAddress
    ) -> redis.Redis:
        options: dict[str, Any] = {}
        if credentials is not None:
            options["username"] = credentials.username
            options["password"] = credentials.password
        if target.tls:
            options["connection_class"] = redis.SSLConnection
            options["ssl_cert_reqs"] = "required"
            options["ssl_check_hostname"] = True
        pool = redis.BlockingConnectionPool(
            host=str(ip),
            port=target.port,
            db=target.db,
            max_connections=self.options.max_connections_per_broker,
            timeout=self.options.publish_timeout_s,  # waiting for a free connection
            socket_connect_timeout=self.options.connect_timeout_s,
            socket_timeout=self.options.publish_timeout_s,  # (redis-py's default is 5 s)
            retry=Retry(NoBackoff(), 0),
            client_name=CLIENT_NAME,
            **options,
        )
        client = redis.Redis(connection_pool=pool)
        try:
            await client.ping()  # connects, authenticates, selects the database
        except BaseException:
            await self._close(client)
            raise
        return client

    def _alive(self, connection: redis.Redis) -> bool:
        return True  # redis-py replaces a broken pooled connection itself (same address)

    async def _close(self, connection: redis.Redis) -> None:
        with contextlib.suppress(Exception):
            await connection.aclose(close_connection_pool=True)

    async def _send(
        self, connection: redis.Redis, target: BrokerTarget, message: BrokerMessage
    ) -> str:
        entry = await connection.xadd(target.name, entry_fields(message))  # type: ignore[arg-type]
        entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
        return f"added to stream {target.name!r} as entry {entry_id}"

    def _connect_failure(self, exc: Exception, target: BrokerTarget) -> PublishFailed:
        if _is_auth_refusal(exc):
            return PublishFailed(
                "broker_auth_failed", "Redis refused the credentials", connect_failed=True
            )
        if isinstance(exc, errors.ResponseError):
            return PublishFailed(
                "broker_refused",
                f"Redis refused the connection ({_first_line(exc)})",
                connect_failed=True,
            )
        if isinstance(exc, OSError | errors.RedisError):
            return PublishFailed(
                "broker_unreachable",
                f"no connection to Redis ({type(exc).__name__})",
                connect_failed=True,
            )
        return PublishFailed(
            "broker_error", f"{type(exc).__name__} while connecting", connect_failed=True
        )

    def _publish_failure(self, exc: Exception, target: BrokerTarget) -> PublishFailed:
        if _is_auth_refusal(exc):
            return PublishFailed("broker_auth_failed", "Redis refused the credentials")
        if isinstance(exc, errors.NoPermissionError):
            return PublishFailed(
                "broker_auth_failed", f"this user may not add to stream {target.name!r}"
            )
        if isinstance(exc, errors.ResponseError):  # WRONGTYPE, OOM, READONLY, …
            return PublishFailed("broker_refused", f"Redis: {_first_line(exc)}")
        if isinstance(exc, errors.TimeoutError):
            return PublishFailed("timeout", "no reply in time: it may or may not be stored")
        if isinstance(exc, OSError | errors.ConnectionError):
            return PublishFailed(
                "connection_lost", f"the connection broke before the reply ({type(exc).__name__})"
            )
        return PublishFailed("broker_error", f"{type(exc).__name__} while publishing")


def _is_auth_refusal(exc: Exception) -> bool:
    """Redis refuses credentials with ``WRONGPASS``/``NOAUTH`` (or, with no password set, "AUTH
    … called without any password configured"), which redis-py does not always type as an
    authentication error."""
    if isinstance(exc, errors.AuthenticationError):
        return True
    text = str(exc)
    return isinstance(exc, errors.ResponseError) and (
        text.startswith(("WRONGPASS", "NOAUTH")) or "without any password configured" in text
    )


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
