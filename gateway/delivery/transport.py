"""Sending to the checked address: an httpx transport (httpx's documented
``AsyncBaseTransport`` seam) that judges every request's host with the SSRF guard, then hands a
pooled transport (``gateway.pooled_transport``: aiohttp's pool behind httpx's interface) the same
request addressed to a checked IP literal.

The ``Host`` header stays the callback URL's, and for HTTPS the ``sni_hostname`` request
extension carries the URL's host name, so TLS sends that name and verifies the certificate
against it. The address is checked before every attempt and the address connected to is the one
checked, so a name public at intake and 127.0.0.1 later (DNS rebinding) is refused.

Connections: the pool keys them by scheme, address and port, and a TLS connection speaks for the
one server name of its handshake. So plain HTTP shares one pool (``Host`` is per request), while
HTTPS has a pool per host name: a connection made for one name is never reused for another name
on the same address (a shared CDN address would answer 421, or serve another site). Pools of
names not used for a while are closed once more than ``max_tls_hosts`` are open.

Errors (classified by type, see the sender)::

    httpx.TransportError
     ├── BlockedAddress                   the guard refused the host or one of its addresses
     └── httpx.ConnectError
          └── ResolutionFailed            the host did not resolve (worth retrying later)
"""

from __future__ import annotations

import ipaddress
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

import httpx

from gateway.delivery.guard import AddressGuard, HostNotResolved
from gateway.domain.addresses import CallbackUrlRejected, IPAddress
from gateway.pooled_transport import PooledTransport

MAX_TLS_HOSTS = 64

InnerTransport = Callable[[], httpx.AsyncBaseTransport]


class BlockedAddress(httpx.TransportError):
    """The guard refused to connect; the message says why. Nothing was connected to."""


class ResolutionFailed(httpx.ConnectError):
    """The callback host did not resolve; the message says why. Nothing was connected to."""


class GuardedTransport(httpx.AsyncBaseTransport):
    """Connects only to addresses the guard allows, trying each checked address of the host in
    the resolver's order. ``ssl_context`` defaults to httpx's verifying context; ``inner``
    makes the transport that does the HTTP (default: a ``PooledTransport`` of
    ``limits.max_connections``; tests pass a recording one)."""

    def __init__(
        self,
        guard: AddressGuard,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
        inner: InnerTransport | None = None,
        max_tls_hosts: int = MAX_TLS_HOSTS,
    ) -> None:
        self.guard = guard
        if inner is None:
            context = ssl_context or httpx.create_ssl_context()
            size = limits.max_connections or 100

            def inner() -> httpx.AsyncBaseTransport:
                return PooledTransport(max_connections=size, ssl_context=context)

        self._plain = _Pool(inner())
        self._tls = _TlsPools(inner, max_tls_hosts)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in {"http", "https"}:
            raise BlockedAddress(
                f"only http and https callbacks are called, not {url.scheme!r}", request=request
            )
        host = url.raw_host.decode("ascii")  # IDNA-encoded; an IPv6 literal without brackets
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            ips = await self.guard.allowed_addresses(host, port)
        except HostNotResolved as exc:
            raise ResolutionFailed(str(exc), request=request) from None
        except CallbackUrlRejected as exc:
            raise BlockedAddress(str(exc), request=request) from None
        extensions = dict(request.extensions)
        if url.scheme == "https":
            pool = await self._tls.acquire(host)
            if not _is_literal(host):
                extensions["sni_hostname"] = host
        else:
            pool = self._plain.acquire()
        try:
            response = await self._send_to_first_answering(pool, request, ips, extensions)
        except BaseException:
            pool.release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, pool),
            extensions=response.extensions,
        )

    async def _send_to_first_answering(
        self,
        pool: _Pool,
        request: httpx.Request,
        ips: list[IPAddress],
        extensions: dict[str, object],
    ) -> httpx.Response:
        last_error: httpx.ConnectError | None = None
        try:
            # A body known in full goes on as bytes: handed on as a stream instead, aiohttp
            # sends it chunked, and a GET then carries "Transfer-Encoding: chunked" and an
            # empty chunk the server never reads (a server closing with it unread resets the
            # connection under the answer; some refuse such a GET outright).
            content: bytes | None = request.content
        except httpx.RequestNotRead:
            content = None
        for ip in ips:  # every one was checked
            to_ip = httpx.Request(
                request.method,
                request.url.copy_with(host=str(ip)),
                headers=request.headers,  # Host included: the URL's host, not the address
                content=content,
                stream=None if content is not None else request.stream,
                extensions=extensions,
            )
            try:
                return await pool.transport.handle_async_request(to_ip)
            except httpx.ConnectError as exc:  # nothing was sent: the next address may answer
                last_error = exc
        assert last_error is not None  # allowed_addresses never returns an empty list
        raise last_error

    async def aclose(self) -> None:
        await self._plain.transport.aclose()
        await self._tls.aclose()


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Pool:
    """An inner transport and how many of its responses are still open."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.in_use = 0

    def acquire(self) -> _Pool:
        self.in_use += 1
        return self

    def release(self) -> None:
        self.in_use -= 1


class _TlsPools:
    """One inner transport per TLS host name; beyond ``max_hosts``, the least recently used
    idle ones are closed."""

    def __init__(self, make: InnerTransport, max_hosts: int) -> None:
        self._make = make
        self._max_hosts = max_hosts
        self._pools: OrderedDict[str, _Pool] = OrderedDict()

    async def acquire(self, name: str) -> _Pool:
        pool = self._pools.get(name)
        if pool is None:
            await self._trim(room_for=1)
            pool = self._pools[name] = _Pool(self._make())
        self._pools.move_to_end(name)
        return pool.acquire()

    async def _trim(self, room_for: int) -> None:
        excess = len(self._pools) + room_for - self._max_hosts
        for name, pool in list(self._pools.items()):
            if excess <= 0:
                return
            if pool.in_use == 0:
                del self._pools[name]
                excess -= 1
                await pool.transport.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.transport.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """The inner response's body; closing it gives the pool back (once)."""

    def __init__(self, stream: httpx.AsyncByteStream, pool: _Pool) -> None:
        self._stream = stream
        self._pool: _Pool | None = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._pool is not None:
                self._pool.release()
                self._pool = None
