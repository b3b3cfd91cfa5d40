"""A subscription's target when it is a message broker (issue 28): parsed, checked against
the client's allow-list, its credentials split off and sealed for the store.

The stored URL is the canonical target without credentials (``BrokerTarget.url``): what the
deliveries, the history and every view hold. The credentials are stored apart, encrypted
(``gateway.delivery.credential_vault``), and shown masked (``app:***``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

from gateway.domain.broker_allowlist import allows
from gateway.domain.broker_targets import (
    BrokerTargetRejected,
    parse_target,
    split_broker_url,
)
from gateway.errors import BrokerTargetRefused, CallbackRejected
from gateway.service.broker_delivery import client_allowlist
from gateway.service.runtime import Runtime
from gateway.store.records import ClientRecord, SealedCredentials


class CheckedTarget(msgspec.Struct, frozen=True):
    url: str  # canonical, without credentials
    credentials: SealedCredentials | None


def refused(field: str, message: str) -> BrokerTargetRefused:
    return BrokerTargetRefused(
        f"{field} is refused: {message}", details=[{"field": field, "message": message}]
    )


def check_broker_target(
    rt: Runtime, client: ClientRecord, url: str, *, field: str = "target_url"
) -> CheckedTarget:
    """The target to store, or :class:`BrokerTargetRefused` naming ``field`` and the part."""
    try:
        parsed = parse_target(url)
    except BrokerTargetRejected as exc:
        raise refused(field, str(exc)) from None
    target = parsed.target
    if not allows(client_allowlist(tuple(client.broker_allowlist)), target):
        raise refused(
            field,
            f"your broker allow-list does not name {target.url}; the operator sets it",
        )
    sealed = None
    if parsed.credentials is not None:
        if rt.vault is None:
            raise refused(
                field,
                "credentials: this gateway cannot store broker credentials "
                "(GATEWAY_BROKER_CREDENTIALS_KEY is not set)",
            )
        sealed = SealedCredentials(
            sealed=rt.vault.seal(parsed.credentials), masked=parsed.credentials.masked()
        )
    return CheckedTarget(url=target.url, credentials=sealed)


HTTP_SCHEMES = frozenset({"http", "https"})


def check_http_target(url: str, *, field: str = "target_url") -> None:
    """A target that names no broker is an http(s) URL without credentials (the SSRF guard
    checks its address next), or :class:`CallbackRejected` naming ``field``."""
    try:
        parts = urlsplit(url.strip())
        userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        parts, userinfo = None, False
    if parts is None or parts.scheme.lower() not in HTTP_SCHEMES:
        message = (
            "a target starts with https://, http://, amqp://, amqps://, nats://, redis:// "
            "or rediss://"
        )
    elif userinfo or "@" in parts.netloc:
        message = "an http(s) target holds no credentials (give them as a header instead)"
    else:
        return
    raise CallbackRejected(
        f"{field} is refused: {message}", details=[{"field": field, "message": message}]
    )


def masked_url(url: str, masked: str | None) -> str:
    """A stored target as shown: its masked credentials put back (``amqp://app:***@h…``)."""
    if masked is None:
        return url
    try:
        split_broker_url(url)
    except BrokerTargetRejected:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{masked}@{rest}"
