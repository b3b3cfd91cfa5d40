"""Sending one webhook attempt: exact bytes out, a bounded look at the answer, never a raise.

No redirects are followed (a 3xx is a failed attempt), the whole attempt is bounded in time even
against a receiver that trickles bytes forever, and at most ``max_response_bytes`` of the answer
(counted after decompression) are read and kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import httpx

from gateway.delivery.guard import AddressGuard, BlockedAddress, GuardedTransport
from gateway.domain.addresses import CallbackUrlRejected, parse_callback_url
from gateway.domain.delivery import AttemptResult
from gateway.upstream.client import parse_retry_after

USER_AGENT = "video-webhook-gateway (Standard Webhooks)"
EXCERPT_CHARS = 2000


class WebhookSender:
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
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self._clock = clock
        self._wall_clock = wall_clock
        self._http = httpx.AsyncClient(
            transport=transport or GuardedTransport(guard, limits=limits),
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        started = self._clock()

        def result(status: int | None, **fields: object) -> AttemptResult:
            latency_ms = (self._clock() - started) * 1000.0
            return AttemptResult(status_code=status, latency_ms=latency_ms, **fields)  # type: ignore[arg-type]

        try:
            parse_callback_url(url)
        except CallbackUrlRejected as exc:
            return result(None, error="blocked_address", response_excerpt=str(exc))
        status: int | None = None
        retry_after: float | None = None
        excerpt = bytearray()
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._http.stream(
                    "POST", url, content=body, headers=dict(headers)
                ) as response:
                    status = response.status_code
                    retry_after = parse_retry_after(
                        response.headers.get("retry-after"), self._wall_clock()
                    )
                    async for chunk in response.aiter_bytes():
                        excerpt += chunk[: self.max_response_bytes - len(excerpt)]
                        if len(excerpt) >= self.max_response_bytes:
                            break  # enough: the rest is neither read nor kept
        except TimeoutError:
            return result(
                status, error="timeout", response_excerpt=_text(excerpt), retry_after_s=retry_after
            )
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, BlockedAddress):
                return result(None, error="blocked_address", response_excerpt=str(exc))
            return result(None, error="connect_error", connect_failed=True)
        except httpx.TimeoutException:
            return result(status, error="timeout", response_excerpt=_text(excerpt))
        except httpx.HTTPError as exc:
            return result(status, error=_error_name(exc), response_excerpt=_text(excerpt))
        error = "redirect" if 300 <= status < 400 else None
        return result(
            status, error=error, response_excerpt=_text(excerpt), retry_after_s=retry_after
        )


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", "replace")[:EXCERPT_CHARS]


def _error_name(exc: Exception) -> str:
    name = type(exc).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
