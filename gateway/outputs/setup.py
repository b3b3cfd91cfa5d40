"""Building the output store from settings, and the rules a configuration must keep.

The composition root calls :func:`open_output_store` once, and refuses to start when
:func:`configuration_problems` names any problem (several replicas on PostgreSQL writing to
directories of their own would each hold a part of the videos and serve 404 for the rest; a
missing signing key would make every replica's links unverifiable by the others, and every
restart break the links already sent — so an empty key is not a problem: the gateway then uses
one it generated and stored in the database, which every replica reads; a short one is).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import obstore
from obstore.store import from_url
from sqlalchemy.engine import make_url

from gateway.outputs.store import OutputStore
from gateway.settings import Settings, SettingsError

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

MIN_SIGNING_KEY_CHARS = 32
_REMOTE_SCHEMES = frozenset({"s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl"})


def _is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgres://", "postgresql"))


def _beside_database(database_url: str, name: str) -> Path:
    """``<name>`` in the SQLite file's directory, or in the working directory."""
    if database_url.startswith("sqlite"):
        database = make_url(database_url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            return Path(database).expanduser().resolve().parent / name
    return Path.cwd() / name


def store_is_local(settings: Settings) -> bool:
    scheme = urlsplit(settings.output_store).scheme.lower()
    return scheme not in _REMOTE_SCHEMES


def local_store_dir(settings: Settings) -> Path:
    """The directory of a local store (``GATEWAY_OUTPUT_STORE`` empty, a path or file://)."""
    raw = settings.output_store.strip()
    if not raw:
        return _beside_database(settings.database_url, "outputs")
    if raw.startswith("file://"):
        return Path(urlsplit(raw).path)
    return Path(raw).expanduser().resolve()


def unsafe_for_replicas(settings: Settings) -> str | None:
    """Why this configuration must not run as several replicas, or None: a local directory
    on PostgreSQL (several replicas) unless the operator said it is shared."""
    if not _is_postgres(settings.database_url) or not store_is_local(settings):
        return None
    if settings.output_store_shared:
        return None
    return (
        f"GATEWAY_OUTPUT_STORE is a local directory ({local_store_dir(settings)}) and the "
        "database is PostgreSQL (several replicas): each replica would keep and serve only "
        "its own videos. Use an object store (s3://bucket/prefix), or set "
        "GATEWAY_OUTPUT_STORE_SHARED=true if every replica mounts the same directory."
    )


def configuration_problems(settings: Settings) -> list[str]:
    """Every reason the kept-outputs configuration cannot serve (empty: fine)."""
    problems: list[str] = []
    refusal = unsafe_for_replicas(settings)
    if refusal:
        problems.append(refusal)
    if 0 < len(settings.output_signing_key) < MIN_SIGNING_KEY_CHARS:
        problems.append(
            "GATEWAY_OUTPUT_SIGNING_KEY must be at least "
            f"{MIN_SIGNING_KEY_CHARS} characters (the same on every replica; empty: one the "
            "gateway generates and keeps in the database): it signs the links to kept videos"
        )
    return problems


def _s3_config(settings: Settings) -> S3Config | None:
    if urlsplit(settings.output_store).scheme.lower() not in {"s3", "s3a"}:
        return None
    options: S3Config = {}
    if settings.output_s3_endpoint:
        options["endpoint"] = settings.output_s3_endpoint
        # Path-style requests: what MinIO and most S3-compatible endpoints expect.
        options["virtual_hosted_style_request"] = False
    if settings.output_s3_region:
        options["region"] = settings.output_s3_region
    if settings.output_s3_access_key_id:
        options["access_key_id"] = settings.output_s3_access_key_id
    if settings.output_s3_secret_access_key:
        options["secret_access_key"] = settings.output_s3_secret_access_key
    return options


def open_output_store(settings: Settings) -> OutputStore:
    """The store named by ``GATEWAY_OUTPUT_STORE`` (see the env example), with bounded
    retries so an unreachable bucket fails a copy in seconds, not minutes. A store URL obstore
    cannot build a store from is a :class:`SettingsError` (nothing is connected to here)."""
    if store_is_local(settings):
        return OutputStore.local(local_store_dir(settings))
    location = settings.output_store.strip()
    client_options: ClientConfig = {
        "connect_timeout": timedelta(seconds=settings.output_connect_timeout_s),
        "timeout": timedelta(seconds=120),  # one request (a multipart part of 8 MiB)
    }
    if settings.output_store_allow_http:
        client_options["allow_http"] = True
    retry: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=30)}
    try:
        store = from_url(
            location,
            config=_s3_config(settings),
            client_options=client_options,
            retry_config=retry,
        )
    except (obstore.exceptions.BaseError, ValueError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SettingsError(f"GATEWAY_OUTPUT_STORE {location!r}: {first_line}") from None
    staging = (
        Path(settings.output_staging_dir).expanduser().resolve()
        if settings.output_staging_dir
        else _beside_database(settings.database_url, "output-staging")
    )
    return OutputStore(store, location=_without_credentials(location), staging_dir=staging)


def _without_credentials(url: str) -> str:
    """The store URL for messages: a ``user:password@`` in it is dropped."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=netloc).geturl()


__all__ = [
    "configuration_problems",
    "local_store_dir",
    "open_output_store",
    "store_is_local",
    "unsafe_for_replicas",
]
