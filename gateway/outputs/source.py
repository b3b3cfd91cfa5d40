"""Opening the upstream's video link: a GET through the SSRF guard, following a few redirects,
each hop judged again.

The guard is a :class:`gateway.delivery.guard.AddressGuard` of its own, built from
``GATEWAY_OUTPUT_SOURCE_ALLOWLIST``: operators open internal receivers to callbacks, and that
must never widen what an upstream's answer can make the gateway fetch. Every hop goes through a
:class:`gateway.delivery.transport.GuardedTransport` (the pinned connection to the checked
address, DNS rebinding refused), and every hop's URL is judged first (http or https, no
credentials). Nothing else of ``httpx.AsyncClient`` is used: no cookies, no environment proxy.

Errors::

    SourceFailure                  the link cannot be opened; ``reason`` says why (a
                                   ``KeepFailureReason``), ``status`` and ``retry_after_s``
                                   come from the last answer when there was one
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import httpx

from gateway.delivery.guard import AddressGuard
from gateway.delivery.transport import BlockedAddress, GuardedTransport
from gateway.domain.addresses import CallbackUrlRejected, parse_callback_url
from gateway.domain.outputs import KeepFailureReason, classify_source_status
from gateway.domain.retry import parse_retry_after

USER_AGENT = "video-webhook-gateway/outputs"
_HEADERS = {
    "user-agent": USER_AGENT,
    "accept": "video/*, application/octet-stream;q=0.9, */*;q=0.5",
    "accept-encoding": "identity",  # the bytes as stored: sniffed, hashed and kept as they are
}


class SourceFailure(Exception):
    """The video link could not be opened (or read): ``reason`` classifies it."""

    def __init__(
        self,
        reason: KeepFailureReason,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after_s = retry_after_s


def shown_url(url: str) -> str:
    """A URL for messages and logs: scheme, host and path only (a signed link's query carries
    its signature, which is as good as a password until it expires)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"[:300]


def transport_failure(exc: httpx.HTTPError, url: str) -> SourceFailure:
    """An ``httpx`` failure of the exchange (connecting or reading) as a classified failure."""
    where = shown_url(url)
    if isinstance(exc, BlockedAddress):
        return SourceFailure(
            KeepFailureReason.BLOCKED_SOURCE, f"the SSRF guard refused {where}: {exc}"
        )
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return SourceFailure(KeepFailureReason.TIMEOUT, f"{where} stalled: {exc}")
    return SourceFailure(KeepFailureReason.NETWORK, f"{where}: {type(exc).__name__}: {exc}"[:500])


class SourceClient:
    """GETs video links through the guard; the caller reads and closes the response."""

    def __init__(
        self,
        guard: AddressGuard,
        *,
        max_redirects: int = 5,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 60.0,
        max_connections: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``transport`` replaces the guarded one (tests only)."""
        self.guard = guard
        self.max_redirects = max_redirects
        self._transport = transport or GuardedTransport(
            guard, limits=httpx.Limits(max_connections=max_connections)
        )
        self._timeouts = httpx.Timeout(read_timeout_s, connect=connect_timeout_s).as_dict()
        self._wall_clock = wall_clock

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def open(self, url: str) -> tuple[httpx.Response, str]:
        """The 2xx answer for ``url`` after at most ``max_redirects`` redirects, and the URL
        that gave it. Raises :class:`SourceFailure` otherwise (nothing left open)."""
        for _hop in range(self.max_redirects + 1):
            try:
                parse_callback_url(url)
                request = httpx.Request(
                    "GET", url, headers=_HEADERS, extensions={"timeout": self._timeouts}
                )
            except (CallbackUrlRejected, httpx.InvalidURL, ValueError) as exc:
                raise SourceFailure(
                    KeepFailureReason.BLOCKED_SOURCE, f"not a link the gateway fetches: {exc}"
                ) from None
            try:
                response = await self._transport.handle_async_request(request)
            except httpx.HTTPError as exc:
                raise transport_failure(exc, url) from None
            verdict = classify_source_status(response.status_code)
            if verdict == "ok":
                return response, url
            await response.aclose()
            status = response.status_code
            if verdict == "redirect":
                location = response.headers.get("location", "").strip()
                if not location:
                    raise SourceFailure(
                        KeepFailureReason.SOURCE_REFUSED,
                        f"{shown_url(url)} answered {status} without a Location",
                        status=status,
                    )
                url = urljoin(url, location)
                continue
            raise SourceFailure(
                verdict,
                f"{shown_url(url)} answered {status}",
                status=status,
                retry_after_s=parse_retry_after(
                    response.headers.get("retry-after"), self._wall_clock()
                ),
            )
        raise SourceFailure(
            KeepFailureReason.TOO_MANY_REDIRECTS,
            f"more than {self.max_redirects} redirects (last: {shown_url(url)})",
        )
