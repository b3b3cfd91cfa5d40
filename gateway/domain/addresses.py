"""SSRF rules for callback URLs: which URLs and addresses the gateway will call.

Pure: name resolution happens elsewhere (``gateway.delivery.guard``); these functions judge a URL
and the addresses a name resolved to. Refused: anything but http(s), credentials in the URL, and
addresses that are loopback, private, link-local (cloud metadata), multicast, reserved,
unspecified, shared (CGNAT) or documentation ranges, in IPv4 and IPv6 — IPv4-mapped, 6to4, Teredo
and NAT64 addresses are judged by the IPv4 address inside. An operator allow-list can open
chosen networks or names (for local development).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

import msgspec

from gateway.domain import wording

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_EXTRA_FORBIDDEN: tuple[tuple[Network, str], ...] = (
    (ipaddress.ip_network("0.0.0.0/8"), "unspecified"),
    (ipaddress.ip_network("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (ipaddress.ip_network("192.0.0.0/24"), "reserved"),
    (ipaddress.ip_network("192.0.2.0/24"), "documentation"),
    (ipaddress.ip_network("198.18.0.0/15"), "benchmarking"),
    (ipaddress.ip_network("198.51.100.0/24"), "documentation"),
    (ipaddress.ip_network("203.0.113.0/24"), "documentation"),
    (ipaddress.ip_network("255.255.255.255/32"), "broadcast"),
    (ipaddress.ip_network("2001:db8::/32"), "documentation"),
    (ipaddress.ip_network("fec0::/10"), "site-local"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class CallbackUrlRejected(ValueError):
    """A callback URL the gateway will not call; the message says why."""


class CallbackTarget(msgspec.Struct, frozen=True):
    scheme: str
    host: str  # lower-case, one trailing dot removed, no brackets
    port: int
    ip: IPAddress | None  # set when the host is an address literal


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def is_forbidden_address(ip: IPAddress) -> str | None:
    """Why the gateway must not connect to ``ip``, or None when it is a public address."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = is_forbidden_address(inner)
        return None if reason is None else f"{reason} (inside {ip})"
    for network, reason in _EXTRA_FORBIDDEN:
        if ip.version == network.version and ip in network:
            return reason
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    for reason, hit in checks:
        if hit:
            return reason
    return None


class Allowlist:
    """Networks and names the operator opens despite the rules (GATEWAY_CALLBACK_ALLOWLIST)."""

    def __init__(self, networks: Sequence[Network] = (), hosts: Sequence[str] = ()) -> None:
        self.networks = tuple(networks)
        self.hosts = frozenset(h.lower().rstrip(".") for h in hosts)

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        networks: list[Network] = []
        hosts: list[str] = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.append(entry)
        return cls(networks, hosts)

    def __bool__(self) -> bool:
        return bool(self.networks or self.hosts)

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Read ``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1`` the way the OS resolver does."""
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return None
    if not any(c.isdigit() for c in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


MAX_NAME = 253  # characters of a host name, without its trailing dot (RFC 1035 in text form)
MAX_LABEL = 63
HOST_NAME = (
    "a host name (labels of 1 to 63 letters, digits, hyphens or underscores, 253 characters "
    "in all) or an IP address"
)
_NOT_IN_A_LABEL = re.compile(r"[^a-z0-9_-]")


def _character(found: str) -> str:
    return "a space" if found == " " else wording.show(found)


def host_name_problem(host: str) -> str | None:
    """What makes ``host`` (lower-case, without a trailing dot, not an address) no host name,
    or None when it is one. Names in other scripts count by their ASCII (IDNA) form. Whether
    the name resolves is not judged here: a well-formed name may not be in the DNS yet."""
    try:
        ascii_name = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = host  # a label the IDNA codec cannot take: judged as written
    labels = ascii_name.split(".")
    for label in labels:
        if not label:
            return "an empty label"
        if len(label) > MAX_LABEL:
            return f"a label of {len(label)} characters"
        bad = _NOT_IN_A_LABEL.search(label)
        if bad is not None:
            return f"{_character(bad.group())} in a label"
        if label.startswith("-") or label.endswith("-"):
            return "a label that starts or ends with a hyphen"
    if len(ascii_name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters in all"
    if labels[-1].isdigit():
        return "a numeric last label, but it is no IPv4 address"
    return None


def _check_host_name(host: str) -> None:
    problem = host_name_problem(host)
    if problem is not None:
        raise CallbackUrlRejected(f"its host {wording.must_be(HOST_NAME, host)} ({problem})")


def parse_callback_url(url: str) -> CallbackTarget:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise CallbackUrlRejected(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise CallbackUrlRejected("only http and https callback URLs are allowed")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise CallbackUrlRejected("credentials in the callback URL are not allowed")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise CallbackUrlRejected("the callback URL has no host")
    if "%" in raw_host:
        raise CallbackUrlRejected("IPv6 zone ids are not allowed in callback URLs")
    host = raw_host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host or host.endswith("."):
        raise CallbackUrlRejected("the callback URL's host is not valid")
    ip: IPAddress | None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = _legacy_ipv4(host)
    if ip is None:
        _check_host_name(host)
    return CallbackTarget(
        scheme=scheme,
        host=host,
        port=port if port is not None else (443 if scheme == "https" else 80),
        ip=ip,
    )


def check_addresses(host: str, ips: Sequence[IPAddress], allowlist: Allowlist) -> None:
    """Refuse ``host`` if any of its addresses is forbidden and not allow-listed."""
    if allowlist.allows_host(host):
        return
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise CallbackUrlRejected(f"{host!r} names this machine")
    if not ips:
        raise CallbackUrlRejected(f"{host!r} does not resolve to any address")
    for ip in ips:
        if allowlist.allows_ip(ip):
            continue
        reason = is_forbidden_address(ip)
        if reason is not None:
            shown = host if str(ip) == host else f"{host} → {ip}"
            raise CallbackUrlRejected(f"callback address {shown} is {reason}")


def check_target(target: CallbackTarget, allowlist: Allowlist) -> None:
    """The checks possible without resolving: literal addresses and reserved names."""
    if target.ip is not None:
        check_addresses(target.host, [target.ip], allowlist)
    elif not allowlist.allows_host(target.host):
        name = target.host
        if name == "localhost" or name.endswith(".localhost"):
            raise CallbackUrlRejected(f"{name!r} names this machine")
