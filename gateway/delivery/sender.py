"""Sending one webhook attempt: exact bytes out, a bounded look at the answer, never a raise.

No redirects are followed (a 3xx is a failed attempt). The whole attempt is bounded in time, even
against a receiver that trickles bytes forever, and at most ``max_response_bytes`` of the answer
are read — counted after decompression, which is done here with a bounded decompressor so a
compressed "bomb" cannot expand in memory. Every connection goes through the SSRF guard.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Mapping

import httpx

from gateway.delivery.guard import AddressGuard
from gateway.delivery.transport import BlockedAddress, GuardedTransport, ResolutionFailed
from gateway.domain.addresses import CallbackUrlRejected, parse_callback_url
from gateway.domain.delivery import AttemptResult
from gateway.domain.retry import parse_retry_after

USER_AGENT = "video-webhook-gateway/webhooks (Standard Webhooks)"
EXCERPT_CHARS = 2000
_DEFAULT_HEADERS = {"user-agent": USER_AGENT, "accept-encoding": "gzip, deflate"}


class WebhookSender:
    """POSTs signed webhook bodies to callback URLs; one ``AttemptResult`` per attempt."""

    def __init__(
        self,
        guard: AddressGuard,
        *,
        timeout_s: float = 15.0,
        connect_timeout_s: float = 5.0,
        max_response_bytes: int = 20_000,
        max_connections: int = 200,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` measures latency; ``wall_clock`` (Unix seconds) reads HTTP-date
        ``Retry-After`` values. ``transport`` replaces the guarded one (tests only)."""
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self._clock = clock
        self._wall_clock = wall_clock
        # The transport is called directly (httpx's transport API): an attempt needs none of
        # ``httpx.AsyncClient``'s cookies, redirects, auth or environment proxies, and its
        # bookkeeping was a tenth of an attempt's cost (bench/README.md, "Mixed backlog"). So
        # no redirect is ever followed and no proxy ever connects past the guard.
        self._transport = transport or GuardedTransport(guard, limits=limits)
        self._timeouts = httpx.Timeout(
            timeout_s, connect=min(connect_timeout_s, timeout_s)
        ).as_dict()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        """POST ``body`` as is with ``headers``; never raises for the receiver's trouble."""
        started = self._clock()
        attempt = _Attempt()
        try:
            parse_callback_url(url)
            request = httpx.Request(
                "POST",
                url,
                content=body,
                headers={**_DEFAULT_HEADERS, **headers},
                extensions={"timeout": self._timeouts},
            )
        except CallbackUrlRejected as exc:
            attempt.error, attempt.note = "blocked_address", str(exc)
        except (httpx.InvalidURL, ValueError) as exc:  # e.g. a header value that is not ASCII
            attempt.error, attempt.note = "invalid_request", str(exc)
        else:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self._exchange(request, attempt)
            except TimeoutError:
                attempt.error = "timeout"
            except httpx.HTTPError as exc:
                _classify(exc, attempt)
        return AttemptResult(
            status_code=attempt.status,
            latency_ms=(self._clock() - started) * 1000.0,
            error=attempt.error,
            response_excerpt=attempt.excerpt(),
            retry_after_s=attempt.retry_after_s,
            connect_failed=attempt.connect_failed,
        )

    async def _exchange(self, request: httpx.Request, attempt: _Attempt) -> None:
        response = await self._transport.handle_async_request(request)
        try:
            attempt.status = response.status_code
            attempt.retry_after_s = parse_retry_after(
                response.headers.get("retry-after"), self._wall_clock()
            )
            if 300 <= response.status_code < 400:
                attempt.error = "redirect"
                location = response.headers.get("location")
                if location:
                    attempt.note = f"redirect to {location[:500]} not followed"
            decoder = _BoundedDecoder(response.headers.get("content-encoding", ""))
            async for raw in response.aiter_raw():
                attempt.body += decoder.feed(raw, self.max_response_bytes - len(attempt.body))
                if len(attempt.body) >= self.max_response_bytes or decoder.done:
                    break  # enough: the rest is neither read nor kept, and the connection closes
            if decoder.undecoded:
                attempt.note = f"{decoder.encoding}-encoded body not shown"
        finally:
            await response.aclose()


class _Attempt:
    """What one attempt has gathered so far (kept even when it ends in a timeout)."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.error: str | None = None
        self.note = ""
        self.retry_after_s: float | None = None
        self.connect_failed = False
        self.body = bytearray()

    def excerpt(self) -> str:
        text = (
            self.note
            if self.note and not self.body
            else bytes(self.body).decode("utf-8", "replace")
        )
        return text[:EXCERPT_CHARS]


def _classify(exc: httpx.HTTPError, attempt: _Attempt) -> None:
    if isinstance(exc, BlockedAddress):
        attempt.error, attempt.note = "blocked_address", str(exc)
    elif isinstance(exc, ResolutionFailed):  # before its base, httpx.ConnectError
        attempt.error, attempt.note, attempt.connect_failed = "dns_error", str(exc), True
    elif isinstance(exc, httpx.ConnectTimeout):
        attempt.error, attempt.connect_failed = "timeout", True
    elif isinstance(exc, httpx.PoolTimeout):
        attempt.error = "pool_timeout"  # our own connection limit, not the receiver
    elif isinstance(exc, httpx.TimeoutException):
        attempt.error = "timeout"
    elif isinstance(exc, httpx.ConnectError):
        attempt.error, attempt.connect_failed = "connect_error", True
        attempt.note = _ssl_note(exc)
    else:
        attempt.error = _snake(type(exc).__name__)


def _ssl_note(exc: httpx.ConnectError) -> str:
    text = str(exc)
    return text[:300] if "CERTIFICATE" in text.upper() or "SSL" in text.upper() else ""


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class _BoundedDecoder:
    """Undoes gzip/deflate without ever producing more than the caller asks for; other
    encodings are left alone (and not shown)."""

    def __init__(self, content_encoding: str) -> None:
        self.encoding = content_encoding.strip().lower()
        self.done = False
        self.undecoded = False
        self._zlib: zlib._Decompress | None = None
        self._deflate_first = False
        if self.encoding in {"gzip", "x-gzip"}:
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._zlib = zlib.decompressobj()
            self._deflate_first = True
        elif self.encoding not in {"", "identity"}:
            self.undecoded = True

    def feed(self, data: bytes, limit: int) -> bytes:
        if limit <= 0 or self.done:
            return b""
        if self.undecoded:
            self.done = True  # nothing worth reading further
            return b""
        if self._zlib is None:
            return data[:limit]
        try:
            out = self._zlib.decompress(data, limit)
        except zlib.error:
            if not self._deflate_first:
                self.done = True
                return b""
            # "deflate" is sometimes sent raw, without the zlib wrapper.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            self._deflate_first = False
            return self.feed(data, limit)
        self._deflate_first = False
        if self._zlib.unconsumed_tail or self._zlib.eof:
            self.done = True  # the limit is reached (or the stream ended)
        return out
