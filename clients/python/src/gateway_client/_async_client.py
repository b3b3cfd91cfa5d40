"""The asynchronous client: the same calls as :class:`gateway_client.Client`, awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from gateway_client import _core
from gateway_client._core import Call, PollingBackoff, RetryPolicy
from gateway_client._models import DeliveryLog, Job, JobPage
from gateway_client._version import USER_AGENT

T = TypeVar("T")


class AsyncClient:
    """The gateway's API for asyncio. ``async with AsyncClient(url, key) as client: …``"""

    def __init__(
        self,
        base_url: str = _core.DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retries: RetryPolicy | None = None,
        polling: PollingBackoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport
        )
        self._headers = _core.default_headers(api_key, USER_AGENT)
        self.retries = retries or RetryPolicy()
        self.polling = polling or PollingBackoff()
        self._sleep = sleep
        self._clock = clock

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        request = call.request(self._http)
        request.headers.update({k: v for k, v in self._headers.items() if k not in call.headers})
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.send(request)
            except httpx.TransportError as error:
                delay = self.retries.after_error(error, attempt, idempotent=call.idempotent)
                if delay is None:
                    raise _core.connection_failed(call, error) from error
            else:
                delay = self.retries.after_response(response, attempt)
                if delay is None:
                    return call.read(response)
            await self._sleep(delay)

    async def create_job(
        self,
        model: str | None = None,
        *,
        callback_url: str | None = None,
        metadata: Mapping[str, str] | None = None,
        events: list[str] | None = None,
        idempotency_key: str | None = None,
        fields: Mapping[str, Any] | None = None,
        **more_fields: Any,
    ) -> Job:
        """See :meth:`gateway_client.Client.create_job`."""
        return await self._send(
            _core.create_job_call(
                {**(fields or {}), **more_fields},
                model=model,
                callback_url=callback_url,
                metadata=metadata,
                events=events,
                idempotency_key=idempotency_key,
            )
        )

    async def get_job(self, job_id: str) -> Job:
        return await self._send(_core.get_job_call(job_id))

    async def list_jobs(
        self, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> JobPage:
        return await self._send(_core.list_jobs_call(status, limit, cursor))

    async def iter_jobs(
        self, *, status: str | None = None, page_size: int = 50
    ) -> AsyncIterator[Job]:
        cursor: str | None = None
        while True:
            page = await self.list_jobs(status=status, limit=page_size, cursor=cursor)
            for job in page.jobs:
                yield job
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def deliveries(self, job_id: str) -> DeliveryLog:
        return await self._send(_core.deliveries_call(job_id))

    async def redeliver(self, job_id: str) -> DeliveryLog:
        return await self._send(_core.redeliver_call(job_id))

    async def watch(self, job_id: str, *, timeout_s: float | None = None) -> AsyncIterator[Job]:
        """See :meth:`gateway_client.Client.watch`."""
        deadline = None if timeout_s is None else self._clock() + timeout_s
        polls = 0
        while True:
            job = await self.get_job(job_id)
            polls += 1
            yield job
            if job.finished:
                return
            await self._sleep(
                _core.next_poll_delay(self.polling, polls, job, deadline, self._clock())
            )

    async def wait(self, job_id: str, *, timeout_s: float | None = 1800.0) -> Job:
        job: Job | None = None
        async for job in self.watch(job_id, timeout_s=timeout_s):  # noqa: B007
            pass
        assert job is not None
        return job
