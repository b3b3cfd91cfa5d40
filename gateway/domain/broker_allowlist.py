"""The per-client broker allow-list: which brokers, and which names on them, a client's
subscriptions may publish to (set by the operator through the admin API).

Entries are target URLs without credentials whose name (exchange, subject, stream) may end
in ``*``, a plain string prefix (not NATS's one-token wildcard):
``nats://10.0.0.6:4222?subject=video.*`` allows ``video.done`` and ``video.a.b``.
:func:`allows` matches scheme, host (as written: a name is not an address), port, virtual
host or database, and the name; nothing else on an allowed broker is reachable.
Brokers are internal by nature, so the allow-list, not the public-address rule of callback
URLs, is the authority (``broker_targets.broker_address_refusal`` still refuses addresses no
broker has: unspecified, multicast, broadcast).

Pure (no I/O); the target grammar is ``gateway.domain.broker_targets``.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from gateway.domain.broker_targets import (
    KIND_OF_SCHEME,
    NAME_PARAMETER,
    BrokerTarget,
    BrokerTargetRejected,
    check_name,
    render_url,
    split_broker_url,
)


class BrokerAllowEntry(msgspec.Struct, frozen=True):
    """One allow-list entry: a target's broker and place, and a name or name prefix."""

    scheme: str
    host: str
    port: int
    name: str  # without the trailing "*" of a prefix
    prefix: bool
    vhost: str = ""
    db: int = 0

    @property
    def url(self) -> str:
        name = self.name + ("*" if self.prefix else "")
        return render_url(self.scheme, self.host, self.port, self.vhost, self.db, name)

    def allows(self, target: BrokerTarget) -> bool:
        if (self.scheme, self.host, self.port, self.vhost, self.db) != (
            target.scheme,
            target.host,
            target.port,
            target.vhost,
            target.db,
        ):
            return False
        return target.name.startswith(self.name) if self.prefix else target.name == self.name


class BrokerAllowlist(msgspec.Struct, frozen=True):
    """A client's broker allow-list (empty: no broker is reachable)."""

    entries: tuple[BrokerAllowEntry, ...] = ()

    def urls(self) -> list[str]:
        """The entries in canonical form (what the admin API stores and shows)."""
        return [entry.url for entry in self.entries]


def parse_allow_entry(url: str, *, index: int | None = None) -> BrokerAllowEntry:
    """One allow-list entry: a target URL without credentials or routing key, whose name may
    end in ``*`` (a prefix; ``*`` alone allows every name on that broker and place)."""
    try:
        raw = split_broker_url(url)
        kind = KIND_OF_SCHEME[raw.scheme]
        if raw.credentials is not None:
            raise BrokerTargetRejected("credentials", "an allow-list entry holds no credentials")
        if "routing_key" in raw.params:
            raise BrokerTargetRejected(
                "routing_key", "an allow-list entry names an exchange, not a routing key"
            )
        name_part = NAME_PARAMETER[kind]
        name = raw.params.get(name_part, "")
        if not name:
            raise BrokerTargetRejected(name_part, f"name the {name_part} (or '*' for any)")
        prefix = name.endswith("*")
        name = name.removesuffix("*")
        check_name(kind, name, prefix=prefix)
    except BrokerTargetRejected as exc:
        if index is None:
            raise
        raise BrokerTargetRejected(exc.part, exc.reason, index=index) from None
    return BrokerAllowEntry(
        scheme=raw.scheme,
        host=raw.host,
        port=raw.port,
        name=name,
        prefix=prefix,
        vhost=raw.vhost,
        db=raw.db,
    )


def parse_allowlist(urls: Iterable[str]) -> BrokerAllowlist:
    """A whole allow-list; a refusal names the entry (``index``, from 0) and its part."""
    entries = tuple(parse_allow_entry(url, index=i) for i, url in enumerate(urls))
    return BrokerAllowlist(tuple(dict.fromkeys(entries)))  # duplicates once, order kept


def allows(allowlist: BrokerAllowlist, target: BrokerTarget) -> bool:
    """Whether one of the entries allows ``target``."""
    return any(entry.allows(target) for entry in allowlist.entries)
