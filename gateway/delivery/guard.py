"""The SSRF guard: a callback URL is checked at intake, and the address is checked again at
connect time, so a name that resolves somewhere public at intake and to 127.0.0.1 later (DNS
rebinding) is still refused.

The connect-time check lives in an httpcore network backend (:class:`GuardedNetworkBackend`): it
resolves the name itself, judges every address with the domain rules
(``gateway.domain.addresses``), and connects to a checked address literal. TLS still uses the
original host name for SNI and certificate checks, because httpcore takes ``server_hostname``
from the URL's origin, not from the address connected to.

Errors::

    CallbackUrlRejected (ValueError)      the domain's refusal; intake maps it to a 4xx
     └── HostNotResolved                  the name gave no address (may be temporary: intake
                                          accepts the job, connect time retries it)
    httpcore.ConnectError
     ├── BlockedAddress                   connect time: the guard refused the address
     └── ResolutionFailed                 connect time: the name did not resolve
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from gateway.domain.addresses import (
    Allowlist,
    CallbackUrlRejected,
    IPAddress,
    check_addresses,
    check_target,
    parse_callback_url,
)

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
RESOLVE_TIMEOUT_S = 5.0
INTAKE_RESOLVE_TIMEOUT_S = 1.0  # intake waits at most this long for DNS, then accepts


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the OS resolver gives for ``host`` (IPv4 and IPv6), in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


class HostNotResolved(CallbackUrlRejected):
    """The callback host gave no address (unknown name, resolver failure or timeout)."""


class BlockedAddress(httpcore.ConnectError):
    """Connect time: the guard refused to connect; the message says why."""


class ResolutionFailed(httpcore.ConnectError):
    """Connect time: the callback host did not resolve; the message says why."""


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class AddressGuard:
    """Judges callback URLs and the addresses their names resolve to, with an operator
    allow-list (empty by default: nothing private is reachable)."""

    def __init__(
        self,
        allowlist: Allowlist | None = None,
        resolver: Resolver | None = None,
        *,
        resolve_timeout_s: float = RESOLVE_TIMEOUT_S,
        intake_resolve_timeout_s: float = INTAKE_RESOLVE_TIMEOUT_S,
    ) -> None:
        self.allowlist = allowlist if allowlist is not None else Allowlist()
        self.resolver = resolver or system_resolver
        self.resolve_timeout_s = resolve_timeout_s
        self.intake_resolve_timeout_s = intake_resolve_timeout_s

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            async with asyncio.timeout(self.resolve_timeout_s):
                ips = await self.resolver(host, port)
        except TimeoutError:
            raise HostNotResolved(f"callback host {host!r} did not resolve in time") from None
        except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise HostNotResolved(f"callback host {host!r} does not resolve ({detail})") from None
        if not ips:
            raise HostNotResolved(f"callback host {host!r} does not resolve to any address")
        return ips

    async def check_url(self, url: str) -> None:
        """Intake: refuse a URL the gateway would not call (raises ``CallbackUrlRejected``).

        A literal forbidden address, and a name that resolves to one, are refused. A name that
        does not resolve (now) is accepted: resolution may fail for a while, the address is
        checked again at every connect, and the attempt is retried on the schedule. The
        resolution is bounded by ``intake_resolve_timeout_s``, so DNS never holds intake up
        for long."""
        target = parse_callback_url(url)
        check_target(target, self.allowlist)
        if target.ip is None and not self.allowlist.allows_host(target.host):
            try:
                async with asyncio.timeout(self.intake_resolve_timeout_s):
                    ips = await self._resolve(target.host, target.port)
            except (HostNotResolved, TimeoutError):
                return
            check_addresses(target.host, ips, self.allowlist)

    async def allowed_addresses(self, host: str, port: int) -> list[IPAddress]:
        """Connect time: every address of ``host``, after checking all of them (one forbidden
        address refuses the host)."""
        literal = _literal(host)
        ips = [literal] if literal is not None else await self._resolve(host, port)
        check_addresses(host.strip("[]"), ips, self.allowlist)
        return ips

    async def resolve_allowed(self, host: str, port: int) -> IPAddress:
        """Connect time: the address to connect to, after checking every address of ``host``."""
        return (await self.allowed_addresses(host, port))[0]


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard allows, resolving names itself so the address
    checked is the address connected to."""

    def __init__(
        self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface passes it)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            ips = await self.guard.allowed_addresses(host, port)
        except HostNotResolved as exc:
            raise ResolutionFailed(str(exc)) from None
        except CallbackUrlRejected as exc:
            raise BlockedAddress(str(exc)) from None
        last_error: Exception | None = None
        for ip in ips:  # every one was checked; try them in the resolver's order
            try:
                return await self.inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None  # allowed_addresses never returns an empty list
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface passes it)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never callback targets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (HTTP/1.1, no proxy), with every new connection made through the
    guard. ``ssl_context`` defaults to httpx's verifying context."""

    def __init__(
        self,
        guard: AddressGuard,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=context, limits=limits)
        # httpx 0.28 offers no hook for the network backend: swap in a pool built the way
        # AsyncHTTPTransport builds its own, plus the guarded backend (pinned by the tests).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(guard),
        )
