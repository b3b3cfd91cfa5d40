"""The SSRF guard: a callback URL is checked at intake, and the address is checked again before
every attempt, so a name that resolves somewhere public at intake and to 127.0.0.1 later (DNS
rebinding) is still refused.

:class:`AddressGuard` judges URLs and resolved addresses with the domain rules
(``gateway.domain.addresses``). The attempt-time check and the connection to the checked address
are made by :class:`gateway.delivery.transport.GuardedTransport`.

Errors::

    CallbackUrlRejected (ValueError)      the domain's refusal; intake maps it to a 4xx
     └── HostNotResolved                  the name gave no address (may be temporary: intake
                                          accepts the job, the attempt retries it)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

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
        checked again at every attempt, and the attempt is retried on the schedule. The
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
        """Attempt time: every address of ``host``, after checking all of them (one forbidden
        address refuses the host)."""
        literal = _literal(host)
        ips = [literal] if literal is not None else await self._resolve(host, port)
        check_addresses(host.strip("[]"), ips, self.allowlist)
        return ips
