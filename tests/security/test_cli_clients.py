"""``gateway clients`` as an operator runs it, in-process (``main(argv)``): a SQLite file, JSON on
stdout, the exit status."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.ids import hash_api_key
from gateway.service.clients import ensure_bootstrap_client
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.records import ClientRecord


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def gateway_clients(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    def run(db: Path, *args: str) -> Run:
        monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{db}")
        capsys.readouterr()  # what earlier commands printed
        code = main(["clients", *args])
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def ok(result: Run) -> Any:
    assert 0 == result.returncode, result.stderr
    return json.loads(result.stdout)


async def _active_client(db: Path, key_hash: str) -> ClientRecord | None:
    store = await Store.open(f"sqlite:///{db}")
    try:
        return await store.clients.by_key_hash(key_hash)
    finally:
        await store.close()


def test_create_list_rotate_revoke(tmp_path: Path, gateway_clients: Any) -> None:
    """create prints the key and secret once; list never shows them; rotate-secret prints a new
    secret with the previous one's grace; revoke takes effect in the store; unknown ids exit 1."""
    db = tmp_path / "gateway.db"
    created = ok(gateway_clients(db, "create", "--name", "zapier"))
    assert {"id", "name", "api_key", "webhook_secret"} <= created.keys()
    assert created["webhook_secret"].startswith("whsec_")

    listed_output = gateway_clients(db, "list")
    listed = ok(listed_output)
    assert [(created["id"], "zapier", False)] == [
        (c["id"], c["name"], c["revoked"]) for c in listed
    ]
    assert created["api_key"] not in listed_output.stdout
    assert created["webhook_secret"] not in listed_output.stdout

    rotated = ok(gateway_clients(db, "rotate-secret", created["id"]))
    assert created["id"] == rotated["id"]
    assert rotated["webhook_secret"] not in (created["webhook_secret"], "")
    assert [True] == [c["rotating_secret"] for c in ok(gateway_clients(db, "list"))]

    key_hash = hash_api_key(created["api_key"])
    active = asyncio.run(_active_client(db, key_hash))
    assert active is not None
    assert (rotated["webhook_secret"], created["webhook_secret"]) == (
        active.webhook_secret,
        active.previous_webhook_secret,
    )
    revoked = ok(gateway_clients(db, "revoke", created["id"]))
    assert revoked["revoked"] is True
    # the key no longer authenticates
    assert asyncio.run(_active_client(db, key_hash)) is None

    missing = gateway_clients(db, "revoke", "cl_does_not_exist")
    assert 1 == missing.returncode
    assert "no such active client" in missing.stderr


async def _start_with_a_generated_secret(db: Path) -> None:
    """What ``gateway serve`` does at start with a bootstrap key and no configured secret."""
    store = await Store.open(f"sqlite:///{db}")
    try:
        await ensure_bootstrap_client(
            store, Settings(client_api_key="gw_bootstrap_key_0123456789abcdef"), now=1.0
        )
    finally:
        await store.close()


def test_show_secret_reads_the_bootstrap_clients_generated_secret(
    tmp_path: Path, gateway_clients: Any
) -> None:
    """The operator reads the secret the gateway generated (never logged) with a command that
    needs the database, without rotating it; during a rotation both secrets show; an unknown
    or revoked client exits 1."""
    db = tmp_path / "gateway.db"
    asyncio.run(_start_with_a_generated_secret(db))
    stored = asyncio.run(_stored_secret(db, "cl_bootstrap"))
    shown = ok(gateway_clients(db, "show-secret", "cl_bootstrap"))
    assert ("cl_bootstrap", stored, None) == (
        shown["id"],
        shown["webhook_secret"],
        shown["previous_webhook_secret"],
    )
    assert stored == asyncio.run(_stored_secret(db, "cl_bootstrap"))  # shown, not rotated

    rotated = ok(gateway_clients(db, "rotate-secret", "cl_bootstrap"))
    during = ok(gateway_clients(db, "show-secret", "cl_bootstrap"))
    assert (rotated["webhook_secret"], stored) == (
        during["webhook_secret"],
        during["previous_webhook_secret"],
    )
    assert 1 == gateway_clients(db, "show-secret", "cl_does_not_exist").returncode
    ok(gateway_clients(db, "revoke", "cl_bootstrap"))
    assert 1 == gateway_clients(db, "show-secret", "cl_bootstrap").returncode


async def _stored_secret(db: Path, client_id: str) -> str | None:
    store = await Store.open(f"sqlite:///{db}")
    try:
        client = await store.clients.get(client_id)
        return None if client is None else client.webhook_secret
    finally:
        await store.close()


def test_times_are_printed_as_the_api_writes_them(tmp_path: Path, gateway_clients: Any) -> None:
    """ISO 8601 in UTC, as the API answers (not Unix seconds)."""
    db = tmp_path / "gateway.db"
    created = ok(gateway_clients(db, "create", "--name", "times"))
    listed = ok(gateway_clients(db, "list"))
    rotated = ok(gateway_clients(db, "rotate-secret", created["id"]))
    shown = ok(gateway_clients(db, "show-secret", created["id"]))
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    times = [
        listed[0]["created_at"],
        rotated["previous_secret_valid_until"],
        shown["previous_secret_valid_until"],
    ]
    assert [True, True, True] == [isinstance(t, str) and bool(iso.match(t)) for t in times], times
