"""What the sync and async clients share, without I/O: the requests, the answers, the retry and
wait decisions. Each client only sends, sleeps and loops around these."""

from __future__ import annotations

import email.utils
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from gateway_client._errors import ConnectionFailed, GatewayError, WaitTimeout, error_for
from gateway_client._models import DeliveryLog, Job, JobPage

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class RetryPolicy:
    """When the client sends a request again by itself.

    Retried: a connection that could not be made; a 503; a 429 that says when to come back
    (``Retry-After``). Idempotent calls (every GET, and a create, which carries its
    ``Idempotency-Key``) are also retried after a timeout or a broken connection, when the
    request may have arrived. Waits grow from ``backoff_s`` to ``max_backoff_s``; a
    ``Retry-After`` longer than ``max_retry_after_s`` is not waited for (the error is raised).
    """

    max_attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))

    def after_response(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before sending again, or None to accept this answer."""
        if attempt >= self.max_attempts or response.status_code not in (429, 503):
            return None
        retry_after = retry_after_s(response)
        if response.status_code == 429 and retry_after is None:
            return None  # a limit that does not say when it lifts: the caller decides
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after_s else None
        return self._backoff(attempt)

    def after_error(
        self, error: httpx.TransportError, attempt: int, *, idempotent: bool
    ) -> float | None:
        """Seconds to wait before sending again after no answer, or None to give up."""
        if attempt >= self.max_attempts or isinstance(error, httpx.UnsupportedProtocol):
            return None  # (a URL without http(s):// fails the same way every time)
        unsent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        return self._backoff(attempt) if unsent or idempotent else None


@dataclass(frozen=True)
class PollingBackoff:
    """How ``watch`` and ``wait`` poll a job: from ``initial_s``, growing by ``factor`` up to
    ``max_s``; when the gateway knows how long such a job takes (``expected_duration_s``), the
    next poll never lands much after the expected end."""

    initial_s: float = 0.5
    factor: float = 1.5
    max_s: float = 5.0

    def delay(self, polls_done: int, job: Job, elapsed_s: float | None) -> float:
        delay = min(self.max_s, self.initial_s * self.factor ** max(0, polls_done - 1))
        expected = job.expected_duration_s
        if expected is not None and elapsed_s is not None and elapsed_s < expected:
            delay = min(delay, max(self.initial_s, expected - elapsed_s))
        return delay


def retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date); None when absent or unreadable."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: the request to send, whether it is safe to resend, and how to read it."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, str | int] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotent: bool = True

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            self.method,
            self.path,
            params=self.params or None,
            json=self.json,
            headers=self.headers or None,
        )

    def read(self, response: httpx.Response) -> T:
        """The parsed answer, or the error it carries as an exception."""
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.is_success:
            if not isinstance(body, dict):
                raise GatewayError(
                    f"{self.method} {self.path}: expected a JSON object, got "
                    f"{response.headers.get('content-type', 'no content type')}"
                )
            return self.parse(body)
        raise error_for(response.status_code, body, retry_after=retry_after_s(response))


def connection_failed(call: Call[Any], error: httpx.TransportError) -> ConnectionFailed:
    return ConnectionFailed(f"{call.method} {call.path}: {type(error).__name__}: {error}")


def _job_path(job_id: str) -> str:
    return f"/v1/jobs/{quote(job_id, safe='')}"


def create_job_call(
    fields: Mapping[str, Any],
    *,
    model: str | None,
    callback_url: str | None,
    metadata: Mapping[str, str] | None,
    events: list[str] | None,
    idempotency_key: str | None,
) -> Call[Job]:
    """``POST /v1/jobs``: any model's fields as given, plus the gateway's own."""
    body: dict[str, Any] = dict(fields)
    for name, value in (
        ("model", model),
        ("callback_url", callback_url),
        ("metadata", dict(metadata) if metadata is not None else None),
        ("events", events),
    ):
        if value is not None:
            body[name] = value
    return Call(
        "POST",
        "/v1/jobs",
        Job.from_json,
        json=body,
        # Made once per create: every resend of it carries the same key, so it makes one job.
        headers={"Idempotency-Key": idempotency_key or f"gwc-{uuid.uuid4()}"},
    )


def get_job_call(job_id: str) -> Call[Job]:
    return Call("GET", _job_path(job_id), Job.from_json)


def list_jobs_call(status: str | None, limit: int, cursor: str | None) -> Call[JobPage]:
    params: dict[str, str | int] = {"limit": limit}
    if status is not None:
        params["status"] = status
    if cursor is not None:
        params["cursor"] = cursor
    return Call("GET", "/v1/jobs", JobPage.from_json, params=params)


def deliveries_call(job_id: str) -> Call[DeliveryLog]:
    return Call("GET", f"{_job_path(job_id)}/deliveries", DeliveryLog.from_json)


def redeliver_call(job_id: str) -> Call[DeliveryLog]:
    # Not idempotent: a request that may have arrived is not sent again.
    return Call(
        "POST",
        f"{_job_path(job_id)}/redeliver",
        DeliveryLog.from_json,  # the events made due again; no attempts yet
        idempotent=False,
    )


def default_headers(api_key: str | None, user_agent: str) -> dict[str, str]:
    headers = {"User-Agent": user_agent, "Accept": "application/json"}
    if api_key and not api_key.isascii():
        raise ValueError("the API key has characters no gateway key has (keys are ASCII)")
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def elapsed_since(job: Job, now_wall: float) -> float | None:
    """Seconds since the job was submitted upstream (else accepted), by the wall clock, as
    ``expected_duration_s`` is measured; None when unknown."""
    start = job.submitted_at or job.created_at
    if start is None:
        return None
    return max(0.0, now_wall - start.timestamp())


def next_poll_delay(
    polling: PollingBackoff, polls: int, job: Job, deadline: float | None, now: float
) -> float:
    """How long ``watch`` sleeps before the next poll; ``WaitTimeout`` once past the deadline."""
    delay = polling.delay(polls, job, elapsed_since(job, time.time()))
    if deadline is None:
        return delay
    remaining = deadline - now
    if remaining <= 0:
        raise WaitTimeout(f"job {job.id} is still {job.status}: the wait timed out", job)
    return min(delay, remaining)
