"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from gateway_client import _core
from gateway_client._core import Call, PollingBackoff, RetryPolicy
from gateway_client._models import DeliveryLog, Job, JobPage
from gateway_client._version import USER_AGENT

T = TypeVar("T")


class Client:
    """The gateway's API, synchronously. ``with Client(url, key) as client: …``

    ``transport`` or ``http_client`` replace the network (tests pass ``httpx.MockTransport``);
    ``sleep`` and ``clock`` (monotonic seconds) replace time for retries and waits.
    """

    def __init__(
        self,
        base_url: str = _core.DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retries: RetryPolicy | None = None,
        polling: PollingBackoff | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport
        )
        self._headers = _core.default_headers(api_key, USER_AGENT)
        self.retries = retries or RetryPolicy()
        self.polling = polling or PollingBackoff()
        self._sleep = sleep
        self._clock = clock

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _send(self, call: Call[T]) -> T:
        request = call.request(self._http)
        request.headers.update({k: v for k, v in self._headers.items() if k not in call.headers})
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                delay = self.retries.after_error(error, attempt, idempotent=call.idempotent)
                if delay is None:
                    raise _core.connection_failed(call, error) from error
            else:
                delay = self.retries.after_response(response, attempt)
                if delay is None:
                    return call.read(response)
            self._sleep(delay)

    def create_job(
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
        """Accept a job: any model's fields as keywords (``prompt=…``) or a mapping (``fields``).

        An ``Idempotency-Key`` is made for this call (or given) and sent with every retry of
        it, so a create retried after a lost answer still makes one job.
        """
        return self._send(
            _core.create_job_call(
                {**(fields or {}), **more_fields},
                model=model,
                callback_url=callback_url,
                metadata=metadata,
                events=events,
                idempotency_key=idempotency_key,
            )
        )

    def get_job(self, job_id: str) -> Job:
        return self._send(_core.get_job_call(job_id))

    def list_jobs(
        self, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> JobPage:
        """One page, newest first; pass ``page.next_cursor`` back for the next one."""
        return self._send(_core.list_jobs_call(status, limit, cursor))

    def iter_jobs(self, *, status: str | None = None, page_size: int = 50) -> Iterator[Job]:
        """Every job, newest first, fetching the pages as they are needed."""
        cursor: str | None = None
        while True:
            page = self.list_jobs(status=status, limit=page_size, cursor=cursor)
            yield from page.jobs
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def deliveries(self, job_id: str) -> DeliveryLog:
        return self._send(_core.deliveries_call(job_id))

    def redeliver(self, job_id: str) -> DeliveryLog:
        """Send a finished job's webhook events again (same event ids, fresh signatures)."""
        return self._send(_core.redeliver_call(job_id))

    def watch(self, job_id: str, *, timeout_s: float | None = None) -> Iterator[Job]:
        """Each observed state of the job, until it ends (the last one yielded is final).

        Observations come from polling with ``self.polling``'s backoff. This is the one place
        that knows how states are observed: an event-stream source can replace the polling
        here, and ``wait`` and every caller of ``watch`` stay as they are.
        """
        deadline = None if timeout_s is None else self._clock() + timeout_s
        polls = 0
        while True:
            job = self.get_job(job_id)
            polls += 1
            yield job
            if job.finished:
                return
            self._sleep(_core.next_poll_delay(self.polling, polls, job, deadline, self._clock()))

    def wait(self, job_id: str, *, timeout_s: float | None = 1800.0) -> Job:
        """The job once it has ended; ``WaitTimeout`` (with the last state) after ``timeout_s``."""
        job: Job | None = None
        for job in self.watch(job_id, timeout_s=timeout_s):  # noqa: B007 (the last one is the answer)
            pass
        assert job is not None  # watch yields at least once or raises
        return job
