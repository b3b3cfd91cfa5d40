"""The AI/ML API client: one pooled ``httpx.AsyncClient``; every outcome returned as a value.

Its transport is :class:`gateway.pooled_transport.PooledTransport` (aiohttp's pool behind
httpx's interface) unless one is injected (tests: ``httpx.MockTransport``, ``ASGITransport``).

Nothing here raises for upstream trouble. Each response, error body and transport fault becomes a
``Generation`` or an ``UpstreamFailure`` whose ``kind`` says how sure we are about what happened
upstream (see :func:`classify_status` — the one table of rules).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from gateway.domain.retry import parse_retry_after
from gateway.domain.upstream import (
    GENERATION_ID_MAX,
    UPSTREAM_STATUS_MAX,
    FailureKind,
    Generation,
    UpstreamFailure,
    UpstreamResult,
)
from gateway.pooled_transport import PooledTransport

PATH = "/v2/video/generations"
USER_AGENT = "video-webhook-gateway"
_MAX_MESSAGE = 500

# status code → what it means for a submission (a poll treats every failure as "try later").
_STATUS_KINDS: dict[int, FailureKind] = {
    404: FailureKind.NOT_FOUND,
    408: FailureKind.RETRYABLE,
    429: FailureKind.RETRYABLE,
    502: FailureKind.RETRYABLE,
    503: FailureKind.RETRYABLE,
}


def classify_status(status: int) -> FailureKind:
    """404 → not found; 408/429/502/503 → nothing started, retry; other 4xx → refused;
    500, 504, other 5xx and unexpected 1xx/3xx → the outcome is unknown."""
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if 400 <= status < 500:
        return FailureKind.REJECTED
    return FailureKind.UNKNOWN


def classify_transport_error(exc: httpx.TransportError) -> FailureKind:
    """Connect errors and pool timeouts mean nothing was sent; anything later is unknown."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return FailureKind.RETRYABLE
    return FailureKind.UNKNOWN


def normalise_error(status: int, body: bytes) -> tuple[str, dict[str, Any]]:
    """Read either error shape (or none) into a message and a small, uniform dict.

    Shapes seen upstream: ``{message, path, requestId, statusCode: "429", timestamp}`` and
    problem+json ``{title, status, message, instance, requestId, timestamp, error: {name,
    message}}``; proxies may send HTML or nothing.
    """
    data: Any = None
    try:
        data = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        data = None
    error: dict[str, Any] = {"status": status, "message": "", "name": None, "request_id": None}
    if isinstance(data, dict):
        inner = data.get("error") if isinstance(data.get("error"), dict) else None
        message = data.get("message") or (inner or {}).get("message") or data.get("title") or ""
        if isinstance(message, list):  # some validators send a list of messages
            message = "; ".join(str(m) for m in message)
        error["message"] = str(message)[:_MAX_MESSAGE]
        error["name"] = (inner or {}).get("name") or data.get("title") or data.get("error")
        if not isinstance(error["name"], str):
            error["name"] = None
        request_id = data.get("requestId") or data.get("request_id")
        error["request_id"] = str(request_id) if request_id else None
        if inner is not None:
            error["error"] = inner
    else:
        text = body.decode("utf-8", "replace").strip()
        error["message"] = text[:200] if text and "<" not in text[:1] else ""
    message = error["message"] or f"HTTP {status} from the upstream"
    return message, error


def _generation(data: Any) -> Generation | None:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    status = data.get("status")
    if not isinstance(status, str):
        return None
    if len(data["id"]) > GENERATION_ID_MAX or "\x00" in data["id"]:
        return None  # no real id looks like this, and it could not be stored
    status = status.replace("\x00", "")[:UPSTREAM_STATUS_MAX]
    video: dict[str, Any] = data["video"] if isinstance(data.get("video"), dict) else {}
    meta: dict[str, Any] = data["meta"] if isinstance(data.get("meta"), dict) else {}
    error = data["error"] if isinstance(data.get("error"), dict) else None
    usage = meta["usage"] if isinstance(meta.get("usage"), dict) else None
    url = video["url"] if isinstance(video.get("url"), str) else None
    if url is not None and "\x00" in url:
        url = None
    return Generation(id=data["id"], status=status, video_url=url, error=error, usage=usage)


class UpstreamClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        user_agent: str = USER_AGENT,
    ) -> None:
        self._api_key = api_key
        self._clock = clock
        # httpx ignores ``limits`` once a transport is given: the pool's size travels with it.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            follow_redirects=False,
            transport=transport or PooledTransport(max_connections=max_connections),
            headers={"User-Agent": user_agent},
        )

    def __repr__(self) -> str:
        return f"UpstreamClient(base_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self, request_id: str, *, json_body: bool) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_key}", "X-Client-Request-Id": request_id}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    async def submit(self, body: bytes, *, request_id: str) -> UpstreamResult:
        """POST a generation; ``body`` is the encoded JSON, sent unchanged."""
        try:
            response = await self._http.post(
                PATH, content=body, headers=self._headers(request_id, json_body=True)
            )
        except httpx.TransportError as exc:
            return self._transport_failure(exc)
        return self._read(response)

    async def fetch(self, generation_id: str, *, request_id: str) -> UpstreamResult:
        """GET a generation's status."""
        try:
            response = await self._http.get(
                PATH,
                params={"generation_id": generation_id},
                headers=self._headers(request_id, json_body=False),
            )
        except httpx.TransportError as exc:
            return self._transport_failure(exc)
        return self._read(response)

    def _read(self, response: httpx.Response) -> UpstreamResult:
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = msgspec.json.decode(response.content)
            except msgspec.DecodeError:
                data = None
            generation = _generation(data)
            if generation is not None:
                return generation
            return UpstreamFailure(
                kind=FailureKind.UNKNOWN,
                message=f"HTTP {status} with an unreadable body from the upstream",
                status_code=status,
            )
        # Should the upstream ever echo the key in an error, it must not reach a job or webhook.
        content = response.content
        if self._api_key:
            content = content.replace(self._api_key.encode(), b"[redacted]")
        message, error = normalise_error(status, content)
        return UpstreamFailure(
            kind=classify_status(status),
            message=message,
            status_code=status,
            error=error,
            retry_after_s=parse_retry_after(response.headers.get("retry-after"), self._clock()),
        )

    @staticmethod
    def _transport_failure(exc: httpx.TransportError) -> UpstreamFailure:
        # The exception's text can hold the URL but never the key (it travels in a header).
        return UpstreamFailure(
            kind=classify_transport_error(exc),
            message=f"{type(exc).__name__} talking to the upstream",
        )
