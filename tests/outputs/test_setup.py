"""The output store from settings, and the configurations the gateway must refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.outputs import (
    configuration_problems,
    local_store_dir,
    open_output_store,
    unsafe_for_replicas,
)
from gateway.settings import Settings, SettingsError, load_settings

PG = "postgresql://gw@db:5432/gw"
KEY = "k" * 32


@pytest.mark.parametrize(
    ("database_url", "store", "shared", "refused"),
    [
        (PG, "", False, True),  # the default local directory, several replicas
        (PG, "/srv/outputs", False, True),
        (PG, "file:///srv/outputs", False, True),
        (PG, "/srv/outputs", True, False),  # the operator says every replica mounts it
        (PG, "s3://bucket/prefix", False, False),
        (PG, "gs://bucket/prefix", False, False),
        ("sqlite:///./gateway.db", "", False, False),  # one machine
    ],
)
def test_replicas_with_a_local_store_are_refused(
    database_url: str, store: str, shared: bool, refused: bool
) -> None:
    settings = Settings(database_url=database_url, output_store=store, output_store_shared=shared)
    reason = unsafe_for_replicas(settings)
    assert refused == (reason is not None)
    if reason is not None:
        assert "GATEWAY_OUTPUT_STORE_SHARED" in reason


def test_a_short_signing_key_is_refused_and_an_empty_one_is_generated() -> None:
    """A short key is a problem; none at all is not (the gateway keeps one in the database)."""
    problems = configuration_problems(Settings(output_signing_key="short"))
    assert 1 == len(problems)
    assert "GATEWAY_OUTPUT_SIGNING_KEY" in problems[0]
    assert [] == configuration_problems(Settings(output_signing_key=KEY))
    assert [] == configuration_problems(Settings(output_signing_key=""))


def test_the_default_store_is_beside_the_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/data/gateway.db")
    assert tmp_path / "data" / "outputs" == local_store_dir(settings)
    store = open_output_store(settings.with_(output_store=str(tmp_path / "kept")))
    assert (True, tmp_path / "kept", tmp_path / "kept" / "staging", False) == (
        store.is_local,
        store.local_root,
        store.staging_dir,
        store.can_presign,
    )


def test_output_settings_are_read_and_secret() -> None:
    settings = load_settings(
        {
            "GATEWAY_OUTPUT_STORE": "s3://videos/kept",
            "GATEWAY_OUTPUT_S3_ACCESS_KEY_ID": "AKIAEXAMPLEKEYID",
            "GATEWAY_OUTPUT_S3_SECRET_ACCESS_KEY": "secret-access-key-value",
            "GATEWAY_OUTPUT_SIGNING_KEY": KEY,
            "GATEWAY_OUTPUT_SOURCE_ALLOWLIST": "127.0.0.1/32, cdn.internal",
            "GATEWAY_OUTPUT_MAX_BYTES": "1048576",
        }
    )
    assert (("127.0.0.1/32", "cdn.internal"), 1048576) == (
        settings.output_source_allowlist,
        settings.output_max_bytes,
    )
    assert {"AKIAEXAMPLEKEYID", "secret-access-key-value", KEY} <= set(settings.secret_values())
    shown = repr(settings)
    assert not any(secret in shown for secret in ("AKIAEXAMPLE", "secret-access", KEY))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_OUTPUT_MAX_BYTES", "0"),
        ("GATEWAY_OUTPUT_COPY_CONCURRENCY", "0"),
        ("GATEWAY_OUTPUT_MAX_REDIRECTS", "50"),
        ("GATEWAY_OUTPUT_RETENTION_S", "0"),
    ],
)
def test_bad_output_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_other_clouds_are_built_through_obstore(tmp_path: Path) -> None:
    """GCS and Azure are constructed the same way (not exercised against a server here); a
    URL obstore cannot build a store from is a settings error naming the variable."""
    gcs = open_output_store(
        Settings(output_store="gs://bucket/prefix", output_staging_dir=str(tmp_path))
    )
    assert (False, True, "gs://bucket/prefix") == (gcs.is_local, gcs.can_presign, gcs.location)
    with pytest.raises(SettingsError, match="GATEWAY_OUTPUT_STORE"):
        open_output_store(Settings(output_store="az://container/prefix"))  # no account given
