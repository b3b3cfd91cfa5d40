"""The SSRF guard: callback URLs are checked at intake and the address is checked again at
connect time, so a name that resolves somewhere public at intake and to 127.0.0.1 later (DNS
rebinding) is still refused. The connect-time check lives in an httpcore network backend: it
resolves the name itself, judges every address, and connects to the checked address literal;
TLS still verifies the certificate against the original host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
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


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the OS resolver gives for ``host`` (IPv4 and IPv6)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


class BlockedAddress(httpcore.ConnectError):
    """The guard refused to connect; the message says why."""


class AddressGuard:
    def __init__(
        self, allowlist: Allowlist | None = None, resolver: Resolver | None = None
    ) -> None:
        self.allowlist = allowlist or Allowlist()
        self.resolver = resolver or system_resolver

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                return await self.resolver(host, port)
        except (OSError, TimeoutError):
            raise CallbackUrlRejected(f"{host!r} does not resolve") from None

    async def check_url(self, url: str) -> None:
        """Intake: refuse URLs the gateway would not call (raises CallbackUrlRejected)."""
        target = parse_callback_url(url)
        check_target(target, self.allowlist)
        if target.ip is None and not self.allowlist.allows_host(target.host):
            check_addresses(
                target.host, await self._resolve(target.host, target.port), self.allowlist
            )

    async def resolve_allowed(self, host: str, port: int) -> IPAddress:
        """Connect time: the address to connect to, after checking every address of ``host``."""
        literal: IPAddress | None
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        ips = [literal] if literal is not None else await self._resolve(host, port)
        check_addresses(host, ips, self.allowlist)
        if not ips:
            raise CallbackUrlRejected(f"{host!r} does not resolve")
        return ips[0]


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    def __init__(
        self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            ip = await self.guard.resolve_allowed(host, port)
        except CallbackUrlRejected as exc:
            raise BlockedAddress(str(exc)) from None
        return await self.inner.connect_tcp(
            str(ip),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never callback targets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, with every new connection made through the guard."""

    def __init__(self, guard: AddressGuard, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        ssl_context = self._pool._ssl_context  # the default, verifying context httpx built
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(guard),
        )
