"""``gateway clients`` as an operator runs it: a real process on a SQLite file, JSON on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from gateway.ids import hash_api_key
from gateway.store import Store


def gateway_clients(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{db}",
        "GATEWAY_LOG_FORMAT": "json",
    }
    return subprocess.run(  # noqa: S603 (our own CLI, fixed arguments)
        [sys.executable, "-m", "gateway.cli", "clients", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert 0 == result.returncode, result.stderr
    return json.loads(result.stdout)


async def test_create_list_rotate_revoke(tmp_path: Path) -> None:
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

    store = await Store.open(f"sqlite:///{db}")
    try:
        key_hash = hash_api_key(created["api_key"])
        active = await store.clients.by_key_hash(key_hash)
        assert active is not None
        assert (rotated["webhook_secret"], created["webhook_secret"]) == (
            active.webhook_secret,
            active.previous_webhook_secret,
        )
        revoked = ok(gateway_clients(db, "revoke", created["id"]))
        assert revoked["revoked"] is True
        assert await store.clients.by_key_hash(key_hash) is None  # the key no longer authenticates
    finally:
        await store.close()

    missing = gateway_clients(db, "revoke", "cl_does_not_exist")
    assert 1 == missing.returncode
    assert "no such active client" in missing.stderr
