"""The outbound HTTP transport (upstream calls and, behind the SSRF guard, webhooks): httpx's
interface over aiohttp's connection pool.

httpx's own transport spends most of a poll, and of a webhook attempt, in its pool's bookkeeping
(``bench/README.md``, "Upstream transport", "Mixed backlog"); ``httpx_aiohttp.AiohttpTransport``
keeps ``httpx.AsyncClient`` in front and lets aiohttp move the bytes. What it cannot be trusted
with is the one distinction a submission lives by: *was the request sent?* Its error table reports
every ``aiohttp.ClientConnectionError`` as ``httpx.ConnectTimeout``, and a server that drops the
connection after reading the POST raises ``ServerDisconnectedError`` (or ``ClientOSError`` on a
reset), which is such an error. Read as a connect error, that is "nothing was sent, retry", and the
gateway would pay twice.

So :class:`PooledTransport` decides the phase itself, from the aiohttp exception that caused the
failure: only ``ClientConnectorError`` (no connection: refused, DNS, TLS handshake) and
``ConnectionTimeoutError`` (no connection in time, pool wait included) come out as connect
errors; anything else, and anything at all once the response has begun, comes out as a read or
protocol error, which :func:`gateway.upstream.client.classify_transport_error` reads as an unknown
outcome. Unrecognised failures fall on the safe side (unknown), never on "not sent". (For a
webhook the distinction only names the failure: a receiver deduplicates by ``webhook-id``.)

The ``sni_hostname`` request extension reaches aiohttp as ``server_hostname``: TLS sends that
name and verifies the certificate against it, which the webhook guard relies on when it sends a
request to a checked IP literal (``gateway.delivery.transport``).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import NoReturn

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

# httpx's own keep-alive expiry; an idle connection is closed before most servers give up on it.
KEEPALIVE_EXPIRY_S = 5.0


def _cause(exc: BaseException) -> BaseException:
    """The aiohttp exception behind ``exc`` (httpx-aiohttp raises its mapping ``from`` it)."""
    if isinstance(exc, httpx.TransportError) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def _not_sent(cause: BaseException) -> bool:
    # ConnectionTimeoutError is raised only around connector.connect() (pool wait + connect);
    # ClientConnectorError only when no connection could be made. Neither has written a byte.
    return isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


def _reclassify(
    exc: BaseException, request: httpx.Request, *, response_started: bool
) -> httpx.TransportError:
    cause = _cause(exc)
    message = f"{type(cause).__name__}: {cause}"
    if not response_started and _not_sent(cause):
        if isinstance(cause, aiohttp.ConnectionTimeoutError):
            return httpx.ConnectTimeout(message, request=request)
        return httpx.ConnectError(message, request=request)
    if isinstance(cause, TimeoutError):  # aiohttp's socket read timeouts are TimeoutErrors
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, httpx.TransportError) and not isinstance(
        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
    ):
        return exc  # already says "maybe sent"
    # A reset, a disconnect, a malformed answer, or a fault we do not recognise.
    return httpx.RemoteProtocolError(message, request=request)


def _raise_reclassified(
    exc: BaseException, request: httpx.Request, *, response_started: bool
) -> NoReturn:
    mapped = _reclassify(exc, request, response_started=response_started)
    if mapped is exc:
        raise mapped
    raise mapped from exc


class _Body(httpx.AsyncByteStream):
    """The response body: a failure while reading it is never a connect error."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as exc:
            _raise_reclassified(exc, self._request, response_started=True)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as exc:
            _raise_reclassified(exc, self._request, response_started=True)


class PooledTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncClient`` transport on an aiohttp pool of at most ``max_connections``.

    Limits given to ``httpx.AsyncClient`` do not reach a transport passed to it, so the pool's
    size lives here. Cookies stay httpx's business (the aiohttp session keeps none), and the CA
    bundle is httpx's (``httpx.create_ssl_context``) unless ``ssl_context`` is given.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry_s: float = KEEPALIVE_EXPIRY_S,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.max_connections = max_connections
        self.keepalive_expiry_s = keepalive_expiry_s
        self._ssl = ssl_context or httpx.create_ssl_context()
        # The session is made on first use, inside the running event loop.
        self._inner = AiohttpTransport(client=self._session)

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=0,
            keepalive_timeout=self.keepalive_expiry_s,
            ssl=self._ssl,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as exc:
            _raise_reclassified(exc, request, response_started=False)
        assert isinstance(response.stream, httpx.AsyncByteStream)  # an async transport's body
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Body(response.stream, request),
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
