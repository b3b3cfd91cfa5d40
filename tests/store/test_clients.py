"""API clients: lookup by key hash, revocation, webhook secret rotation, bootstrap ``ensure``."""

from __future__ import annotations

import asyncio

import msgspec

from gateway.service.clients import BOOTSTRAP_CLIENT_ID, ensure_bootstrap_client
from gateway.settings import Settings
from gateway.store import Store
from tests.store.builders import T0, add_client, client_record


async def test_create_and_find_by_key_hash(store: Store) -> None:
    """A created client is found by id and by its key hash, exactly as stored."""
    client = await add_client(store, "cli_a")
    await add_client(store, "cli_b", created_at=T0 + 1)

    assert client == await store.clients.get("cli_a")
    assert client == await store.clients.by_key_hash(client.api_key_hash)
    assert None is await store.clients.by_key_hash("0" * 64)
    assert ["cli_a", "cli_b"] == [c.id for c in await store.clients.list()]


async def test_a_revoked_key_is_not_found(store: Store) -> None:
    """After revocation the key hash no longer finds the client; the record keeps the time."""
    client = await add_client(store)

    revoked = await store.clients.revoke(client.id, now=T0 + 5)
    again = await store.clients.revoke(client.id, now=T0 + 9)

    assert None is await store.clients.by_key_hash(client.api_key_hash)
    assert (T0 + 5, T0 + 5) == (
        revoked.revoked_at if revoked else None,
        again.revoked_at if again else None,
    )


async def test_rotation_keeps_the_previous_secret_until_the_grace_ends(store: Store) -> None:
    """After rotation the new secret signs first, the old one second until ``previous_until``."""
    await add_client(store, secret="whsec_old")

    rotated = await store.clients.rotate_secret(
        "cli_a", new_secret="whsec_new", previous_until=T0 + 3600
    )

    assert rotated is not None
    assert rotated == await store.clients.get("cli_a")
    assert ["whsec_new", "whsec_old"] == rotated.signing_secrets(T0 + 3599)
    assert ["whsec_new"] == rotated.signing_secrets(T0 + 3600)


async def test_rotating_a_revoked_or_unknown_client_does_nothing(store: Store) -> None:
    """Rotation answers None for a revoked or missing client and changes no secret."""
    client = await add_client(store, secret="whsec_kept")
    await store.clients.revoke(client.id, now=T0)

    assert None is await store.clients.rotate_secret(
        client.id, new_secret="whsec_x", previous_until=T0 + 1
    )
    assert None is await store.clients.rotate_secret(
        "cli_missing", new_secret="whsec_x", previous_until=T0 + 1
    )
    stored = await store.clients.get(client.id)
    assert ("whsec_kept", None) == (
        stored.webhook_secret if stored else None,
        stored.previous_webhook_secret if stored else None,
    )


async def test_ensure_inserts_then_updates_the_bootstrap_client(store: Store) -> None:
    """``ensure`` creates a new client, and later takes a changed secret and key hash."""
    first = client_record("cli_boot", secret="whsec_one")
    assert first == await store.clients.ensure(first)

    changed = msgspec.structs.replace(first, webhook_secret="whsec_two", api_key_hash="f" * 64)
    updated = await store.clients.ensure(changed)

    assert ("whsec_two", "f" * 64) == (updated.webhook_secret, updated.api_key_hash)
    assert updated == await store.clients.by_key_hash("f" * 64)
    assert None is await store.clients.by_key_hash(first.api_key_hash)
    assert 1 == len(await store.clients.list())


async def test_ensure_keeping_the_secret_inserts_if_absent_then_reads(store: Store) -> None:
    """``keep_secret``: the secret offered is stored only if the client is new; otherwise the
    stored one comes back (the key hash, which settings own, is still brought up to date)."""
    first = await store.clients.ensure(
        client_record("cli_boot", secret="whsec_one"), keep_secret=True
    )
    offered = msgspec.structs.replace(
        client_record("cli_boot", secret="whsec_two"), api_key_hash="e" * 64
    )
    again = await store.clients.ensure(offered, keep_secret=True)
    assert ("whsec_one", "whsec_one", "e" * 64) == (
        first.webhook_secret,
        again.webhook_secret,
        again.api_key_hash,
    )
    assert again == await store.clients.get("cli_boot")


async def test_two_replicas_starting_together_end_with_one_secret(
    store: Store, database_url: str
) -> None:
    """Two replicas start at once, the bootstrap client has a key but no configured secret:
    neither start fails, both end with the same generated secret, the one stored, and a later
    start keeps it (receivers keep verifying)."""
    other = await Store.open(database_url)
    settings = Settings(client_api_key="gw_bootstrap_key_0123456789abcdef")
    try:
        one, two = await asyncio.gather(
            ensure_bootstrap_client(store, settings, now=T0),
            ensure_bootstrap_client(other, settings, now=T0),
        )
        later = await ensure_bootstrap_client(other, settings, now=T0 + 60)
    finally:
        await other.close()
    stored = await store.clients.get(BOOTSTRAP_CLIENT_ID)
    assert stored is not None
    assert [stored.webhook_secret] * 3 == [
        one.webhook_secret if one else None,
        two.webhook_secret if two else None,
        later.webhook_secret if later else None,
    ]
    assert stored.webhook_secret.startswith("whsec_")
