"""Message-broker destinations: their URLs, checked, and the credentials split off them.

Pure (no I/O): a target URL is parsed and checked here; the publishers in
``gateway.delivery.brokers`` connect and publish. Three kinds, five schemes::

    amqp://host:5672/vhost?exchange=E&routing_key=K     RabbitMQ (amqps: TLS, port 5671)
    nats://host:4222?subject=S                          NATS JetStream
    redis://host:6379/0?stream=S                        a Redis Stream (rediss: TLS)

Credentials (``user:password@``; NATS: ``token@``; Redis: ``:password@``) are split off into a
:class:`BrokerCredentials`, so the stored and shown target never holds them
(:meth:`BrokerTarget.url`; :func:`display_url` shows them masked). Every refusal is a
:class:`BrokerTargetRejected` (a ``ValueError``) naming the part of the URL at fault, so the API
can answer 400 naming the field.

Rules worth knowing:

- AMQP: the virtual host is the path, percent-encoded (``/%2F`` or no path for ``/``); the
  exchange is required (the default exchange ``""`` would route to any queue by name) and made
  of letters, digits and ``-_.:``; the routing key is optional, at most 255 bytes.
- NATS: a publish subject is dot-separated non-empty tokens without white space or the wildcards
  ``*`` and ``>``; subjects of the server itself (``$JS.…``, ``$SYS.…``: a publish there is a
  JetStream API call) and reply inboxes (``_INBOX.…``) are refused.
- Redis: the path is the database number; the stream key has no white space and no ``*``.
- ``rediss`` names its broker by IP address: redis-py verifies TLS against the address it
  connects to, and the gateway always connects to the address it checked.

Who may reach which broker is the per-client allow-list (``gateway.domain.broker_allowlist``);
:func:`broker_address_refusal` refuses the addresses no broker has (unspecified, multicast,
broadcast), whatever the allow-list says.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import msgspec

from gateway.domain.addresses import IPAddress, embedded_ipv4

#: The port of each scheme when the URL names none (http and https included for ``destination``).
DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "amqp": 5672,
    "amqps": 5671,
    "nats": 4222,
    "redis": 6379,
    "rediss": 6379,
}
BROKER_SCHEMES = frozenset({"amqp", "amqps", "nats", "redis", "rediss"})
MAX_NAME_BYTES = 255
MAX_REDIS_DB = 99_999

Part = Literal[
    "url",
    "scheme",
    "credentials",
    "host",
    "port",
    "vhost",
    "db",
    "exchange",
    "routing_key",
    "subject",
    "stream",
    "query",
]


class BrokerTargetRejected(ValueError):
    """A broker target (or allow-list entry) the gateway will not use; ``part`` names the part
    of the URL at fault, ``index`` the allow-list entry when there is one."""

    def __init__(self, part: Part, reason: str, *, index: int | None = None) -> None:
        where = part if index is None else f"entry {index}, {part}"
        super().__init__(f"{where}: {reason}")
        self.part: Part = part
        self.reason = reason
        self.index = index


class BrokerKind(StrEnum):
    AMQP = "amqp"
    NATS = "nats"
    REDIS = "redis"


KIND_OF_SCHEME = {
    "amqp": BrokerKind.AMQP,
    "amqps": BrokerKind.AMQP,
    "nats": BrokerKind.NATS,
    "redis": BrokerKind.REDIS,
    "rediss": BrokerKind.REDIS,
}
NAME_PARAMETER: dict[BrokerKind, Part] = {
    BrokerKind.AMQP: "exchange",
    BrokerKind.NATS: "subject",
    BrokerKind.REDIS: "stream",
}
_PARAMETERS: dict[BrokerKind, tuple[str, ...]] = {
    BrokerKind.AMQP: ("exchange", "routing_key"),
    BrokerKind.NATS: ("subject",),
    BrokerKind.REDIS: ("stream",),
}


class BrokerTarget(msgspec.Struct, frozen=True):
    """One place on one broker, without credentials. ``name`` is the exchange, subject or
    stream; ``vhost`` is AMQP's (else ""), ``db`` Redis's (else 0)."""

    scheme: str
    host: str  # lower-case, no brackets, no trailing dot
    port: int
    name: str
    vhost: str = ""
    db: int = 0
    routing_key: str = ""  # AMQP only

    @property
    def kind(self) -> BrokerKind:
        return KIND_OF_SCHEME[self.scheme]

    @property
    def tls(self) -> bool:
        return self.scheme in {"amqps", "rediss"}

    @property
    def url(self) -> str:
        """The canonical URL (port always written): what is stored and shown."""
        return render_url(
            self.scheme, self.host, self.port, self.vhost, self.db, self.name, self.routing_key
        )

    @property
    def broker(self) -> str:
        """``scheme://host:port``: the broker, for the breaker and the per-destination cap."""
        return f"{self.scheme}://{bracketed(self.host)}:{self.port}"


@dataclass(frozen=True)
class BrokerCredentials:
    """What a broker wants to know about us: user and password, or a NATS token (``username``
    alone), or a Redis password (``password`` alone). Never shown: ``repr`` masks them."""

    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"BrokerCredentials({self.masked()})"

    def masked(self) -> str:
        """``user:***``, ``***`` (a token or a password alone): how they may be shown."""
        if self.username and self.password is not None:
            return f"{self.username}:***"
        return "***"

    def secrets(self) -> tuple[str, ...]:
        """The strings that must never be shown (for scrubbing messages)."""
        return tuple(s for s in (self.password, self.username) if s)


class ParsedTarget(msgspec.Struct, frozen=True):
    target: BrokerTarget
    credentials: BrokerCredentials | None


def is_broker_url(url: str) -> bool:
    """Whether ``url`` names a broker (by its scheme); says nothing of its validity."""
    scheme, sep, _ = url.strip().partition("://")
    return bool(sep) and scheme.lower() in BROKER_SCHEMES


def parse_target(url: str) -> ParsedTarget:
    """The target and the credentials ``url`` carries; raises :class:`BrokerTargetRejected`."""
    raw = split_broker_url(url)
    kind = KIND_OF_SCHEME[raw.scheme]
    name_part = NAME_PARAMETER[kind]
    name = raw.params.get(name_part, "")
    if not name:
        raise BrokerTargetRejected(name_part, f"a {raw.scheme} target needs ?{name_part}=…")
    check_name(kind, name, prefix=False)
    routing_key = raw.params.get("routing_key", "")
    _check_routing_key(routing_key)
    target = BrokerTarget(
        scheme=raw.scheme,
        host=raw.host,
        port=raw.port,
        name=name,
        vhost=raw.vhost,
        db=raw.db,
        routing_key=routing_key,
    )
    return ParsedTarget(target, raw.credentials)


def display_url(target: BrokerTarget, credentials: BrokerCredentials | None) -> str:
    """The target as it may be shown: credentials masked (``amqp://app:***@host:5672/…``)."""
    url = target.url
    if credentials is None:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{credentials.masked()}@{rest}"


def broker_address_refusal(ip: IPAddress) -> str | None:
    """Why no broker can be at ``ip`` (unspecified, multicast, broadcast), or None."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = broker_address_refusal(inner)
        return None if reason is None else f"{reason} (inside {ip})"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip == ipaddress.IPv4Address("255.255.255.255"):
        return "broadcast"
    return None


# --- parsing ----------------------------------------------------------------------------------


class BrokerUrlParts(msgspec.Struct, frozen=True):
    """A broker URL taken apart and checked, but for its name (see ``check_name``)."""

    scheme: str
    host: str
    port: int
    vhost: str
    db: int
    params: dict[str, str]
    credentials: BrokerCredentials | None


_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_EXCHANGE = re.compile(r"^[A-Za-z0-9\-_.:]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BLANK_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def split_broker_url(url: str) -> BrokerUrlParts:
    """Scheme, credentials, host, port, virtual host or database and query parameters of a
    broker URL, each checked; raises :class:`BrokerTargetRejected`."""
    text = url.strip()
    scheme, sep, _ = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in BROKER_SCHEMES:
        raise BrokerTargetRejected(
            "scheme",
            "a broker target starts with amqp://, amqps://, nats://, redis:// or rediss://",
        )
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise BrokerTargetRejected("url", f"not a valid URL ({exc})") from None
    if parts.fragment or text.endswith("#"):
        raise BrokerTargetRejected("url", "a broker target has no #fragment")
    credentials = _credentials(parts.netloc)
    host = _host(parts.netloc, parts.hostname)
    if scheme == "rediss" and not _is_ip(host):
        raise BrokerTargetRejected(
            "host", "a rediss target names its broker by IP address (TLS is checked against it)"
        )
    try:
        port = parts.port
    except ValueError:
        raise BrokerTargetRejected("port", "the port is a number from 1 to 65535") from None
    if port == 0:
        raise BrokerTargetRejected("port", "the port is a number from 1 to 65535")
    kind = KIND_OF_SCHEME[scheme]
    vhost, db = _path(kind, parts.path)
    params = _query(kind, parts.query)
    return BrokerUrlParts(
        scheme=scheme,
        host=host,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        vhost=vhost,
        db=db,
        params=params,
        credentials=credentials,
    )


def _credentials(netloc: str) -> BrokerCredentials | None:
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return None
    user, colon, password = userinfo.partition(":")
    username = unquote(user) or None
    secret = unquote(password) if colon else None
    if username is None and not secret:
        raise BrokerTargetRejected("credentials", "an '@' with nothing before it")
    for value in (username, secret):
        if value is not None and _CONTROL.search(value):
            raise BrokerTargetRejected("credentials", "credentials hold no control characters")
    return BrokerCredentials(username=username, password=secret)


def _host(netloc: str, hostname: str | None) -> str:
    if not hostname:
        raise BrokerTargetRejected("host", "the target names no host")
    if "%" in hostname:
        raise BrokerTargetRejected("host", "IPv6 zone ids are not allowed")
    host = hostname.lower()
    host = host[:-1] if host.endswith(".") else host
    if _is_ip(host):
        return host
    if "[" in netloc.rpartition("@")[2]:
        raise BrokerTargetRejected("host", "not an IPv6 address")
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise BrokerTargetRejected("host", f"{hostname!r} is not a host name or IP address")
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _path(kind: BrokerKind, path: str) -> tuple[str, int]:
    if kind is BrokerKind.NATS:
        if path not in {"", "/"}:
            raise BrokerTargetRejected("url", "a nats target has no path")
        return "", 0
    if kind is BrokerKind.REDIS:
        number = path.removeprefix("/")
        if not number:
            return "", 0
        if not number.isdigit() or not number.isascii() or int(number) > MAX_REDIS_DB:
            raise BrokerTargetRejected("db", "the path is the database number (/0, /1, …)")
        return "", int(number)
    raw = path.removeprefix("/")  # AMQP: the path is the virtual host, percent-encoded
    if not raw:
        return "/", 0
    if "/" in raw:
        raise BrokerTargetRejected("vhost", "percent-encode '/' in a virtual host (%2F)")
    try:
        vhost = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BrokerTargetRejected("vhost", "not valid UTF-8 once decoded") from None
    if _CONTROL.search(vhost):
        raise BrokerTargetRejected("vhost", "a virtual host holds no control characters")
    if len(vhost.encode()) > MAX_NAME_BYTES:
        raise BrokerTargetRejected("vhost", f"at most {MAX_NAME_BYTES} bytes")
    return vhost, 0


def _query(kind: BrokerKind, query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except (ValueError, UnicodeDecodeError):
        raise BrokerTargetRejected("query", "not a valid query string") from None
    known = _PARAMETERS[kind]
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in known:
            expected = ", ".join(known)
            raise BrokerTargetRejected("query", f"unknown parameter {key!r} (expected {expected})")
        if key in params:
            raise BrokerTargetRejected("query", f"{key!r} is given twice")
        params[key] = value
    return params


def check_name(kind: BrokerKind, name: str, *, prefix: bool) -> None:
    """Check an exchange, subject or stream name; ``prefix``: ``name`` is what precedes an
    allow-list entry's ``*`` (may be empty)."""
    part = NAME_PARAMETER[kind]
    if len(name.encode()) > MAX_NAME_BYTES:
        raise BrokerTargetRejected(part, f"at most {MAX_NAME_BYTES} bytes")
    if kind is BrokerKind.AMQP:
        if name and not _EXCHANGE.match(name):
            raise BrokerTargetRejected(part, "an exchange is letters, digits and -_.: only")
    elif kind is BrokerKind.NATS:
        _check_subject(name, prefix=prefix)
    elif _BLANK_OR_CONTROL.search(name) or "*" in name:
        raise BrokerTargetRejected(part, "a stream key holds no spaces, control characters or *")


def _check_subject(subject: str, *, prefix: bool) -> None:
    if _BLANK_OR_CONTROL.search(subject):
        raise BrokerTargetRejected("subject", "a subject holds no spaces or control characters")
    if "*" in subject or ">" in subject:
        raise BrokerTargetRejected("subject", "a publish subject holds no wildcards (* or >)")
    if subject.startswith("$") or subject.startswith("_INBOX"):
        raise BrokerTargetRejected("subject", "subjects of the server ($…) and inboxes are refused")
    tokens = subject.split(".")
    if prefix:
        tokens = tokens[:-1]  # "video." is a fine prefix: its last token is still to come
    if any(not token for token in tokens):
        raise BrokerTargetRejected("subject", "a subject is dot-separated non-empty tokens")


def _check_routing_key(key: str) -> None:
    if len(key.encode()) > MAX_NAME_BYTES:
        raise BrokerTargetRejected("routing_key", f"at most {MAX_NAME_BYTES} bytes")
    if _CONTROL.search(key):
        raise BrokerTargetRejected("routing_key", "a routing key holds no control characters")


# --- rendering --------------------------------------------------------------------------------


def bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def render_url(
    scheme: str, host: str, port: int, vhost: str, db: int, name: str, routing_key: str = ""
) -> str:
    """The canonical URL (port always written, parts percent-encoded, no credentials)."""
    base = f"{scheme}://{bracketed(host)}:{port}"
    kind = KIND_OF_SCHEME[scheme]
    q = NAME_PARAMETER[kind]
    if kind is BrokerKind.AMQP:
        url = f"{base}/{quote(vhost, safe='')}?{q}={quote(name, safe='*')}"
        if routing_key:
            url += f"&routing_key={quote(routing_key, safe='')}"
        return url
    if kind is BrokerKind.REDIS:
        return f"{base}/{db}?{q}={quote(name, safe='*')}"
    return f"{base}?{q}={quote(name, safe='.*')}"
