"""Settings: the only module that reads the environment.

Every variable is listed with its default in ``deploy/gateway.env.example``; a test keeps the
two in step. Any of them may instead be given as ``NAME_FILE=/path`` (read from that file: how
Docker and Kubernetes hand out secrets). Everything else in the gateway receives a
:class:`Settings` instance.
"""

from __future__ import annotations

import base64
import os
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from gateway.domain.fair_share import HostLimits, InvalidHostLimit

DEFAULT_UPSTREAM_URL = "https://api.aimlapi.com"
DEFAULT_DATABASE_URL = "sqlite:///./gateway.db"
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"  # where ``gateway submit`` and ``gateway jobs`` call
DEFAULT_DELIVERY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class SettingsError(ValueError):
    """A setting has a value the gateway cannot use."""


def _floats(raw: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise SettingsError(f"expected comma-separated seconds, got {raw!r}") from exc
    if not values or any(v < 0 for v in values):
        raise SettingsError(f"expected one or more non-negative seconds, got {raw!r}")
    return values


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"expected a boolean, got {raw!r}")


def _strings(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Gateway configuration. Field ``foo_bar`` is read from ``GATEWAY_FOO_BAR``."""

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = DEFAULT_DATABASE_URL
    upstream_url: str = DEFAULT_UPSTREAM_URL
    aimlapi_key: str = field(default="", repr=False)  # read from AIMLAPI_KEY (no prefix)

    # The bootstrap client (``gateway dev`` generates both when unset).
    client_api_key: str = field(default="", repr=False)
    client_webhook_secret: str = field(default="", repr=False)
    admin_key: str = field(default="", repr=False)
    console_secret: str = field(default="", repr=False)  # signs console session cookies
    # Encrypts broker credentials at rest (a Fernet key); empty: broker targets with
    # credentials are refused (`gateway dev` generates and keeps one).
    broker_credentials_key: str = field(default="", repr=False)

    # Polling.
    poll_policy: str = "adaptive"  # "adaptive" or "fixed"
    poll_interval_s: float = 15.0
    poll_floor_s: float = 2.0
    poll_ceiling_s: float = 30.0
    poll_window_polls: int = 7  # adaptive: polls around the expected time (more: less lag)
    job_deadline_s: float = 1800.0

    # ModelCatalogue: an id missing from the catalogue is refused unless this is on (only the checks
    # common to every model then apply; the job records that its body was not checked).
    allow_unlisted_models: bool = False

    # Submission.
    submit_max_attempts: int = 8
    resubmit_unknown: bool = False
    upstream_timeout_s: float = 30.0
    upstream_connect_timeout_s: float = 10.0

    # Delivery.
    delivery_schedule: tuple[float, ...] = DEFAULT_DELIVERY_SCHEDULE
    delivery_jitter: float = 0.2
    delivery_timeout_s: float = 15.0
    delivery_connect_timeout_s: float = 5.0
    delivery_max_response_bytes: int = 20_000
    callback_allowlist: tuple[str, ...] = ()
    secret_rotation_grace_s: float = 86400.0

    # The ticker and leases.
    worker: bool = True  # False: an API-only replica (accepts and answers; others do the work)
    tick_interval_s: float = 1.0
    claim_batch: int = 200
    max_concurrency: int = 64
    lease_s: float = 60.0
    # "database": on PostgreSQL, lease and due times follow the database's clock (replicas'
    # clocks may be skewed); "local": each replica's own clock (SQLite always: one machine).
    lease_clock: str = "database"
    shutdown_grace_s: float = 20.0
    # Deliveries have capacity of their own (beside GATEWAY_MAX_CONCURRENCY for submissions and
    # polls), at most this many per client and per destination (scheme, host, port) at once.
    delivery_concurrency: int = 32
    delivery_client_share: int = 8
    delivery_per_destination: int = 4
    # Destinations shared by many clients get caps of their own ("host[:port]=N", comma-
    # separated; e.g. hooks.zapier.com=64), and one client holds at most this many attempts at
    # one destination: 0, one less than the destination's cap (so another client always finds
    # room there).
    delivery_host_limits: tuple[str, ...] = ()
    delivery_client_host_limit: int = 0
    # A client's circuit to a destination opens after this many failed attempts in a row (no
    # answer, 5xx, 429): that client's deliveries there are then deferred on the retry schedule
    # without an attempt. When this many clients' circuits to one destination are open at once,
    # the destination is down for everyone.
    delivery_breaker_failures: int = 5
    delivery_breaker_clients: int = 3
    # A subscription whose deliveries have all failed for this long (seconds), with at least
    # 10 of them exhausted (dead), is disabled and its client told (``subscription.disabled``).
    subscription_disable_after: float = 5 * 86400.0
    # /readyz proves the database can commit with a small write at most this often.
    readiness_probe_interval_s: float = 5.0
    replica_id: str = field(default_factory=_default_replica_id)

    # Limits.
    max_body_bytes: int = 16 * 1024 * 1024
    metadata_max_bytes: int = 2048
    rate_limit_per_minute: int = 600
    max_in_flight_per_client: int = 1000
    idempotency_ttl_s: float = 86400.0
    # A finished job's records (the job, its webhook events, their attempts, its history) are
    # removed this long after it finished, once none of its events is still owed; never sooner
    # than GATEWAY_IDEMPOTENCY_TTL_S. 30 days.
    job_retention_s: float = 30 * 86400.0

    # Prefer: wait (holding a request until its job ends).
    prefer_wait_max_s: float = 25.0  # the cap on wait=N (Zapier's actions time out at 30 s)
    wait_check_interval_s: float = 1.0  # the fallback check of waited-on jobs (one query)
    event_stream_poll_s: float = 0.5  # how often an open event stream reads the job's history

    # Kept outputs (the finished videos, issue 26). The store: "" is a directory "outputs"
    # beside the SQLite file (./outputs on PostgreSQL); a path or file:///… is a local
    # directory; s3://bucket/prefix (also gs://bucket/prefix, az://container/prefix) an object
    # store.
    outputs: str = "keep"  # "keep": copy every finished video first; "link": the upstream's link
    public_url: str = ""  # the gateway's public origin for kept videos' links ("": host:port)
    output_store: str = ""
    output_store_shared: bool = False  # the local directory is shared by every replica
    output_staging_dir: str = ""  # remote stores: where downloads are staged ("": beside the db)
    output_s3_endpoint: str = ""  # MinIO, R2, …; "" for AWS S3
    output_s3_region: str = ""
    output_s3_access_key_id: str = field(default="", repr=False)
    output_s3_secret_access_key: str = field(default="", repr=False)
    output_store_allow_http: bool = False  # an http:// endpoint (tests, a local MinIO)
    output_signing_key: str = field(default="", repr=False)  # signs the kept videos' links
    output_retention_s: float = 7 * 86400.0
    # Where a copy may fetch from despite the SSRF rules (never widened by the callbacks').
    output_source_allowlist: tuple[str, ...] = ()
    output_max_bytes: int = 2 * 1024**3
    output_max_redirects: int = 5
    output_copy_concurrency: int = 4  # copies in flight per replica
    output_connect_timeout_s: float = 10.0
    output_read_timeout_s: float = 60.0  # the longest silence while downloading
    output_copy_timeout_s: float = 3600.0  # one copy attempt, download to publish

    # Storage and logs.
    sqlite_synchronous: str = "NORMAL"  # "NORMAL" or "FULL"
    # Every wait on the database: connecting, each command, a pool checkout, SQLite's busy wait;
    # a replica cut off from its database answers 503 store_unavailable within about this.
    db_timeout_s: float = 5.0
    # PostgreSQL, set on each of the gateway's sessions (0: no limit): a statement is cancelled
    # after this long; a lock is waited for at most this long (then 503); a session left idle
    # in a transaction (its replica cut off mid-transaction) is ended, releasing its locks.
    db_statement_timeout_s: float = 4.0
    db_lock_timeout_s: float = 2.0
    db_idle_in_transaction_timeout_s: float = 5.0
    log_format: str = "json"  # "json" or "console"
    log_level: str = "INFO"

    # Traces: exported over OTLP/HTTP when set (read from OTEL_EXPORTER_OTLP_ENDPOINT, no prefix).
    otel_exporter_otlp_endpoint: str = ""
    # The OpenTelemetry standard variables, unprefixed too: the service's name (empty: the
    # ``service.name`` of the resource attributes, else video-webhook-gateway); more resource
    # attributes and the export's headers, each ``key=value,…`` with values percent-encoded.
    # The headers carry a collector's credentials: a secret.
    otel_service_name: str = ""
    otel_resource_attributes: str = ""
    otel_exporter_otlp_headers: str = field(default="", repr=False)
    # Which fields the environment set (filled in by ``load_settings``; not a setting itself).
    given: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and ``gateway dev`` use this)."""
        return replace(self, **changes)

    def secret_values(self) -> list[str]:
        """The configured secrets, for the log scrubber (never to be printed)."""
        return [
            self.aimlapi_key,
            self.client_api_key,
            self.client_webhook_secret,
            self.admin_key,
            self.console_secret,
            self.broker_credentials_key,
            self.otel_exporter_otlp_headers,
            # Each header's value alone too (a token may be logged without its name).
            *key_value_pairs(self.otel_exporter_otlp_headers, "").values(),
            self.output_s3_access_key_id,
            self.output_s3_secret_access_key,
            self.output_signing_key,
        ]

    @property
    def public_origin(self) -> str:
        """Where callers reach this gateway: ``GATEWAY_PUBLIC_URL``, else host and port."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def explicitly_set(self) -> frozenset[str]:
        """The fields the environment gave a value (others are defaults)."""
        return self.given


def setting_fields() -> list[Any]:
    """The fields read from the environment (all but ``given``)."""
    return [f for f in fields(Settings) if f.name != "given"]


# Standard names other tools share: read as they are, without the GATEWAY_ prefix.
_UNPREFIXED = frozenset(
    {
        "aimlapi_key",
        "otel_exporter_otlp_endpoint",
        "otel_service_name",
        "otel_resource_attributes",
        "otel_exporter_otlp_headers",
    }
)


def key_value_pairs(raw: str, name: str) -> dict[str, str]:
    """``key=value,key=value`` as OpenTelemetry's variables write them (W3C Baggage style:
    values percent-encoded, blanks around the separators ignored). A malformed list raises
    ``SettingsError`` naming the variable ``name``, never the value (it may hold a secret)."""
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{name} must be key=value pairs separated by commas")
        pairs[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return pairs


def env_name(field_name: str) -> str:
    """The environment variable a field is read from."""
    if field_name in _UNPREFIXED:
        return field_name.upper()
    return f"GATEWAY_{field_name.upper()}"


def _convert(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return _bool(raw)
        if kind == "tuple[float, ...]":
            return _floats(raw)
        if kind == "tuple[str, ...]":
            return _strings(raw)
    except ValueError as exc:
        raise SettingsError(f"{env_name(name)}: {exc}") from None
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in setting_fields():
        raw = _raw_value(env, env_name(f.name))
        if raw == "" and f.default_factory is not MISSING:
            continue  # an empty computed setting (GATEWAY_REPLICA_ID=) means "compute it"
        if raw is not None:
            values[f.name] = _convert(f.name, f.type, raw)
    settings = Settings(**values, given=frozenset(values))
    _check(settings)
    return settings


def _raw_value(env: Mapping[str, str], name: str) -> str | None:
    """``NAME``, or the contents of the file ``NAME_FILE`` names (the convention of Docker and
    Kubernetes secrets: a secret mounted as a file, never in the environment); the file's
    trailing newline is dropped. Both set is an error; an empty ``NAME_FILE`` is not given."""
    path = env.get(f"{name}_FILE") or None
    if path is None:
        return env.get(name)
    if env.get(name):
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().rstrip("\r\n")
    except OSError as exc:
        raise SettingsError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{name}_FILE: {path} is not UTF-8 text") from None


def _check(settings: Settings) -> None:
    for name in ("otel_resource_attributes", "otel_exporter_otlp_headers"):
        key_value_pairs(getattr(settings, name), env_name(name))
    if settings.poll_policy not in {"adaptive", "fixed"}:
        raise SettingsError("GATEWAY_POLL_POLICY must be 'adaptive' or 'fixed'")
    if settings.sqlite_synchronous.upper() not in {"NORMAL", "FULL"}:
        raise SettingsError("GATEWAY_SQLITE_SYNCHRONOUS must be NORMAL or FULL")
    if settings.log_format not in {"json", "console"}:
        raise SettingsError("GATEWAY_LOG_FORMAT must be 'json' or 'console'")
    if settings.poll_floor_s <= 0 or settings.poll_ceiling_s < settings.poll_floor_s:
        raise SettingsError("need 0 < GATEWAY_POLL_FLOOR_S <= GATEWAY_POLL_CEILING_S")
    if settings.poll_window_polls < 1:
        raise SettingsError("GATEWAY_POLL_WINDOW_POLLS must be >= 1")
    if settings.prefer_wait_max_s < 0 or settings.wait_check_interval_s <= 0:
        raise SettingsError(
            "GATEWAY_PREFER_WAIT_MAX_S must be >= 0 and GATEWAY_WAIT_CHECK_INTERVAL_S > 0"
        )
    if settings.event_stream_poll_s <= 0:
        raise SettingsError("GATEWAY_EVENT_STREAM_POLL_S must be > 0")
    if settings.lease_clock not in {"database", "local"}:
        raise SettingsError("GATEWAY_LEASE_CLOCK must be 'database' or 'local'")
    if settings.max_concurrency < 1 or settings.claim_batch < 1:
        raise SettingsError("GATEWAY_MAX_CONCURRENCY and GATEWAY_CLAIM_BATCH must be >= 1")
    try:
        HostLimits.parse(settings.delivery_host_limits)
    except InvalidHostLimit as exc:
        raise SettingsError(f"GATEWAY_DELIVERY_HOST_LIMITS: {exc}") from None
    if settings.delivery_client_host_limit < 0 or settings.delivery_breaker_clients < 1:
        raise SettingsError(
            "GATEWAY_DELIVERY_CLIENT_HOST_LIMIT must be >= 0 and "
            "GATEWAY_DELIVERY_BREAKER_CLIENTS >= 1"
        )
    if settings.output_copy_concurrency < 1 or settings.output_max_bytes < 1:
        raise SettingsError(
            "GATEWAY_OUTPUT_COPY_CONCURRENCY and GATEWAY_OUTPUT_MAX_BYTES must be >= 1"
        )
    if not 0 <= settings.output_max_redirects <= 20:
        raise SettingsError("GATEWAY_OUTPUT_MAX_REDIRECTS must be between 0 and 20")
    if settings.outputs not in {"keep", "link"}:
        raise SettingsError("GATEWAY_OUTPUTS must be 'keep' or 'link'")
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        raise SettingsError("GATEWAY_PUBLIC_URL must be an http:// or https:// origin")
    if settings.subscription_disable_after <= 0:
        raise SettingsError("GATEWAY_SUBSCRIPTION_DISABLE_AFTER must be > 0")
    if settings.db_timeout_s <= 0:
        raise SettingsError("GATEWAY_DB_TIMEOUT_S must be > 0")
    for name in ("db_statement_timeout_s", "db_lock_timeout_s", "db_idle_in_transaction_timeout_s"):
        if getattr(settings, name) < 0:
            raise SettingsError(f"{env_name(name)} must be >= 0 (0: no limit)")
    if settings.output_retention_s <= 0:
        raise SettingsError("GATEWAY_OUTPUT_RETENTION_S must be > 0")
    if settings.broker_credentials_key and not is_fernet_key(settings.broker_credentials_key):
        raise SettingsError(
            "GATEWAY_BROKER_CREDENTIALS_KEY must be a Fernet key (32 bytes, url-safe base64)"
        )
    if settings.job_retention_s <= 0:
        raise SettingsError("GATEWAY_JOB_RETENTION_S must be > 0")


def is_fernet_key(text: str) -> bool:
    """Whether ``text`` has the form of a Fernet key: 32 bytes in url-safe base64."""
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError):
        return False


@dataclass(frozen=True, slots=True)
class CallerSettings:
    """For ``gateway submit`` and ``gateway jobs``: a caller of some gateway, not the server.

    ``GATEWAY_URL`` and ``GATEWAY_KEY`` are a client's URL and key. They configure no server,
    which is why they are not :class:`Settings` fields (and not in the server's env example).
    ``url`` is None when ``GATEWAY_URL`` is unset: the caller then looks further (the URL
    ``gateway dev`` saved, else :data:`DEFAULT_GATEWAY_URL`).
    """

    url: str | None = None
    key: str = field(default="", repr=False)


def load_caller_settings(environ: Mapping[str, str] | None = None) -> CallerSettings:
    env = os.environ if environ is None else environ
    return CallerSettings(url=env.get("GATEWAY_URL") or None, key=env.get("GATEWAY_KEY", ""))
