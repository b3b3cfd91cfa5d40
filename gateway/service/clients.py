"""Managing API clients: keys shown once and stored hashed, signing secrets with rotation."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import msgspec

from gateway.clock import iso
from gateway.delivery.ed25519_keys import SigningKey, jwks
from gateway.domain.broker_allowlist import parse_allowlist
from gateway.domain.broker_targets import BrokerTargetRejected
from gateway.domain.signing import SigningMode, format_secret
from gateway.errors import BrokerTargetRefused, NotFound
from gateway.ids import hash_api_key, new_api_key, new_client_id
from gateway.service.client_keys import ClientKeys
from gateway.service.ports import StorePort
from gateway.settings import Settings
from gateway.store.records import ClientRecord

BOOTSTRAP_CLIENT_ID = "cl_bootstrap"


class ClientView(msgspec.Struct, frozen=True):
    """A client as listed: never its key (only a hash is kept) nor its signing secret."""

    id: str
    name: str
    created_at: str  # ISO 8601 in UTC, as every time the API answers
    revoked: bool
    rotating_secret: bool
    signing: str = "hmac"  # "hmac" (v1), "ed25519" (v1a) or "both"
    broker_allowlist: list[str] = msgspec.field(default_factory=list)
    rotating_signing_key: bool = False  # the previous ed25519 key still signs


class NewClientCredentials(msgspec.Struct, frozen=True):
    """Shown once, at creation: the key cannot be read back later."""

    id: str
    name: str
    api_key: str
    webhook_secret: str


class RotatedSecret(msgspec.Struct, frozen=True):
    id: str
    webhook_secret: str
    previous_secret_valid_until: str  # ISO 8601 in UTC


class SigningSecrets(msgspec.Struct, frozen=True):
    """A client's signing secrets, for its operator (``gateway clients show-secret``): the one
    signing now, and during a rotation the previous one and until when it still signs."""

    id: str
    name: str
    webhook_secret: str
    previous_webhook_secret: str | None
    previous_secret_valid_until: str | None  # ISO 8601 in UTC


def signing_secrets(client: ClientRecord, *, now: float) -> SigningSecrets:
    rotating = len(client.signing_secrets(now)) > 1
    return SigningSecrets(
        id=client.id,
        name=client.name,
        webhook_secret=client.webhook_secret,
        previous_webhook_secret=client.previous_webhook_secret if rotating else None,
        previous_secret_valid_until=iso(client.previous_secret_until) if rotating else None,
    )


def _iso(ts: float) -> str:
    return iso(ts) or ""  # never empty: ``ts`` is a time


def new_webhook_secret() -> str:
    return format_secret(secrets.token_bytes(32))


def client_view(client: ClientRecord, *, now: float) -> ClientView:
    return ClientView(
        id=client.id,
        name=client.name,
        created_at=_iso(client.created_at),
        revoked=client.revoked_at is not None,
        rotating_secret=len(client.signing_secrets(now)) > 1,
        signing=client.signing_mode,
        broker_allowlist=list(client.broker_allowlist),
        rotating_signing_key=len(client.ed25519_secrets(now)) > 1,
    )


class Jwk(msgspec.Struct, frozen=True):
    """An Ed25519 public key (RFC 8037), with its Standard Webhooks ``whpk_`` form."""

    kty: str
    crv: str
    x: str
    kid: str
    use: str
    alg: str
    whpk: str


class JwkSet(msgspec.Struct, frozen=True):
    """A client's ``v1a`` public keys, the current one first (during a rotation two)."""

    keys: list[Jwk]


class RotatedSigningKey(msgspec.Struct, frozen=True):
    id: str
    keys: list[Jwk]  # the new key first, then the previous one while it still signs
    previous_key_valid_until: str | None  # ISO 8601 in UTC; None when there was no key


def signing_key_set(client: ClientRecord, *, now: float) -> JwkSet:
    """The public keys of what signs the client's webhooks now (none in ``hmac`` mode
    before any key was made)."""
    keys = [SigningKey.from_secret(secret) for secret in client.ed25519_secrets(now)]
    return JwkSet(keys=[msgspec.convert(jwk, Jwk) for jwk in jwks(keys)["keys"]])


def checked_allowlist(entries: list[str]) -> list[str]:
    """The entries in canonical form, or :class:`BrokerTargetRefused` naming the entry."""
    try:
        return parse_allowlist(entries).urls()
    except BrokerTargetRejected as exc:
        field = "broker_allowlist" if exc.index is None else f"broker_allowlist[{exc.index}]"
        raise BrokerTargetRefused(
            f"{field} is refused: {exc.part}: {exc.reason}",
            details=[{"field": field, "message": f"{exc.part}: {exc.reason}"}],
        ) from None


async def create_client(store: StorePort, name: str, *, now: float) -> NewClientCredentials:
    api_key = new_api_key()
    secret = new_webhook_secret()
    client = ClientRecord(
        id=new_client_id(),
        name=name,
        api_key_hash=hash_api_key(api_key),
        webhook_secret=secret,
        created_at=now,
    )
    await store.clients.create(client)
    return NewClientCredentials(id=client.id, name=name, api_key=api_key, webhook_secret=secret)


async def rotate_secret(
    store: StorePort,
    client_id: str,
    *,
    now: float,
    grace_s: float,
    keys: ClientKeys | None = None,
) -> RotatedSecret | None:
    secret = new_webhook_secret()
    updated = await store.clients.rotate_secret(
        client_id, new_secret=secret, previous_until=now + grace_s
    )
    if keys is not None:
        keys.forget(client_id)  # the cached record holds the old secret
    if updated is None:
        return None
    return RotatedSecret(
        id=client_id, webhook_secret=secret, previous_secret_valid_until=_iso(now + grace_s)
    )


async def ensure_bootstrap_client(
    store: StorePort, settings: Settings, *, now: float
) -> ClientRecord | None:
    """The client configured by settings keeps working beside the managed ones; the stored
    record (None when no key is configured).

    With no ``GATEWAY_CLIENT_WEBHOOK_SECRET`` the secret is generated once, by whichever
    replica stores the client first, and kept at every later start (receivers keep
    verifying); the operator reads it with ``gateway clients show-secret cl_bootstrap``."""
    if not settings.client_api_key:
        return None
    configured = settings.client_webhook_secret
    return await store.clients.ensure(
        ClientRecord(
            id=BOOTSTRAP_CLIENT_ID,
            name="bootstrap",
            api_key_hash=hash_api_key(settings.client_api_key),
            webhook_secret=configured or new_webhook_secret(),
            created_at=now,
        ),
        keep_secret=not configured,
    )


async def revoke_client(
    store: StorePort, client_id: str, *, now: float, keys: ClientKeys | None = None
) -> ClientRecord | None:
    """Revoke the client's key: refused at once by ``keys`` (this replica's cache), by the
    other replicas when the change's notification arrives, by every cache within its TTL."""
    client = await store.clients.revoke(client_id, now=now)
    if keys is not None:
        keys.forget(client_id)
    return client


class Clients:
    """The operator's client management (the admin API), over the use cases above."""

    def __init__(
        self, store: StorePort, keys: ClientKeys, *, clock: Callable[[], float], grace_s: float
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._grace_s = grace_s

    async def create(self, name: str) -> NewClientCredentials:
        return await create_client(self._store, name, now=self._clock())

    async def listing(self) -> list[ClientView]:
        now = self._clock()
        return [client_view(c, now=now) for c in await self._store.clients.list()]

    async def holder_of(self, key_hash: str) -> ClientRecord | None:
        """The active client whose key hashes to ``key_hash``, read from the database rather
        than the API's key cache: a console session ends the moment its key is revoked or
        replaced, from any process."""
        return await self._store.clients.by_key_hash(key_hash)

    async def revoke(self, client_id: str) -> ClientView:
        client = await revoke_client(self._store, client_id, now=self._clock(), keys=self._keys)
        if client is None:
            raise NotFound(f"No client {client_id!r}")
        return client_view(client, now=self._clock())

    async def configure(
        self,
        client_id: str,
        *,
        broker_allowlist: list[str] | None = None,
        signing: SigningMode | None = None,
    ) -> ClientView:
        """Change a client's broker allow-list and signing mode (what is given); an ed25519
        key is made the first time a mode needs one."""
        entries = None if broker_allowlist is None else checked_allowlist(broker_allowlist)
        new_key = SigningKey.generate().secret() if signing in {"ed25519", "both"} else None
        client = await self._store.clients.configure(
            client_id, broker_allowlist=entries, signing_mode=signing, ed25519_key=new_key
        )
        self._keys.forget(client_id)
        if client is None:
            raise NotFound(f"No client {client_id!r}")
        return client_view(client, now=self._clock())

    async def rotate_signing_key(self, client_id: str) -> RotatedSigningKey:
        """A new ed25519 key; the previous one keeps signing (second) during the grace."""
        now = self._clock()
        before = await self._store.clients.get(client_id)
        client = await self._store.clients.rotate_ed25519_key(
            client_id, new_key=SigningKey.generate().secret(), previous_until=now + self._grace_s
        )
        self._keys.forget(client_id)
        if before is None or client is None:
            raise NotFound(f"No active client {client_id!r}")
        return RotatedSigningKey(
            id=client_id,
            keys=signing_key_set(client, now=now).keys,
            previous_key_valid_until=_iso(now + self._grace_s) if before.ed25519_key else None,
        )

    async def signing_keys(self, client_id: str) -> JwkSet:
        """The public keys receivers verify ``v1a`` signatures with (no key needed to ask)."""
        client = await self._store.clients.get(client_id)
        if client is None:
            raise NotFound(f"No client {client_id!r}")
        return signing_key_set(client, now=self._clock())

    async def rotate_secret(self, client_id: str) -> RotatedSecret:
        rotated = await rotate_secret(
            self._store, client_id, now=self._clock(), grace_s=self._grace_s, keys=self._keys
        )
        if rotated is None:
            raise NotFound(f"No active client {client_id!r}")
        return rotated
