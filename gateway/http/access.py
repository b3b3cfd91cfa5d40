"""The access log and HTTP metrics: one JSON line and one count per request, whatever its fate.

Every request, including those refused before a handler runs (401, 404, 405, 413, 415) and
those answered by an error handler, is logged as ``http_request`` with its request id, client
id (once authenticated), the job id (a request that accepted or replayed a job: intake logs no
line of its own), method, route template, status and latency, and counted in
``gateway_http_requests_total{route,method,status}``. Never a header, a key or a body.
The request id is the caller's ``X-Request-Id`` when it is short and plain, else a new one; it
is sent back, and bound (structlog contextvars) for every log line the request causes.

The moment a request arrived is stamped in its scope's state before anything else runs
(:func:`stamp_arrival`, on the event loop's clock): time limits promised from the caller's point
of view (``Prefer: wait=N``) run from there (:func:`arrived_at`), not from whenever a busy event
loop got round to the handler.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from gateway.observability.metrics import Metrics

log = structlog.get_logger("gateway.access")

_PLAIN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a path no route matches (keeps labels bounded)

Send = Callable[[Any], Awaitable[None]]


ARRIVED_AT = "gateway_arrived_at"  # the key in the scope's state (Litestar's ``request.state``)


def stamp_arrival(scope: dict[str, Any]) -> None:
    """Note in ``scope``'s state when the request arrived, on the running event loop's clock
    (the clock ``asyncio`` times out by)."""
    scope.setdefault("state", {})[ARRIVED_AT] = asyncio.get_running_loop().time()


def arrived_at(state: Mapping[str, Any]) -> float:
    """When the request whose state this is arrived, on the event loop's clock (now, for a
    request that was not stamped: one made around the app, in a test)."""
    stamped = state.get(ARRIVED_AT)
    return float(stamped) if stamped is not None else asyncio.get_running_loop().time()


def request_id_of(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _PLAIN_ID.match(text):
                return text
    return "req_" + secrets.token_hex(8)


class AccessLog:
    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.perf_counter) -> None:
        self.metrics = metrics
        self.clock = clock
        # Each labelled series, looked up once (the labels are bounded: routes, methods,
        # statuses); prometheus_client's ``labels`` checks and locks on every call.
        self._counts: dict[tuple[str, str, str], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    async def around(
        self, scope: dict[str, Any], send: Send, call: Callable[[Send], Awaitable[None]]
    ) -> None:
        """Run ``call`` (the app) for one HTTP request, logging and counting its answer."""
        started = self.clock()
        request_id = request_id_of(scope)
        status = 500  # if the app fails before answering, the server answers 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        # client_id is bound by authentication; listed here so it is unbound afterwards.
        with structlog.contextvars.bound_contextvars(request_id=request_id, client_id=None):
            try:
                await call(send_with_id)
            finally:
                method = scope.get("method", "")
                method = method if method in _METHODS else "OTHER"
                route = scope.get("path_template") or UNMATCHED
                seconds = max(0.0, self.clock() - started)
                self._count(route, method, str(status)).inc()
                self._latency(route, method).observe(seconds)
                state = scope.get("state", {})
                job = {"job_id": state["job_id"]} if "job_id" in state else {}
                log.info(
                    "http_request",
                    request_id=request_id,
                    client_id=state.get("client_id"),
                    **job,
                    method=method,
                    route=route,
                    status=status,
                    latency_ms=round(seconds * 1000, 1),
                )

    def _count(self, route: str, method: str, status: str) -> Any:
        series = self._counts.get((route, method, status))
        if series is None:
            series = self.metrics.http_requests.labels(route=route, method=method, status=status)
            self._counts[(route, method, status)] = series
        return series

    def _latency(self, route: str, method: str) -> Any:
        series = self._latencies.get((route, method))
        if series is None:
            series = self.metrics.http_latency.labels(route=route, method=method)
            self._latencies[(route, method)] = series
        return series
