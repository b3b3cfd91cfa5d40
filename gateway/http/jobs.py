"""``/v1/jobs``: accept a job, read it, list them, see and replay its webhook deliveries.

Handlers are thin: parse, call a use case, return a Struct. A client only ever sees its own
jobs; another client's job id answers 404, exactly like an unknown id.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from gateway.domain import wording
from gateway.domain.jobs import JobStatus
from gateway.errors import (
    InvalidRequest,
    NotFound,
    NothingToRedeliver,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from gateway.http.auth import CLIENT_SECURITY, current_client
from gateway.http.errors import documented_errors, keep_body
from gateway.http.openapi import GatewayOperation, JobRequestOperation
from gateway.http.parsing import parse_job_request
from gateway.http.prefer import applied_wait
from gateway.http.state import Gateway, gateway_of
from gateway.observability.tracing import normalize_traceparent
from gateway.service.event_stream import BATCH as STREAM_BATCH
from gateway.service.event_stream import Frame, job_event_frames
from gateway.service.intake import INTAKE_ERRORS, Accepted, accept_job
from gateway.service.redelivery import redeliver_job, replay_dead
from gateway.service.views import (
    AttemptView,
    DeliveryView,
    JobView,
    attempt_view,
    delivery_view,
    job_view,
)
from gateway.service.waiting import hold_until_ended
from gateway.store import Store
from gateway.store.history import JobEventRecord
from gateway.store.records import ClientRecord, JobRecord, could_be_id


class JobPage(msgspec.Struct, frozen=True):
    data: list[JobView]
    next_cursor: str | None = None


class DeliveryLog(msgspec.Struct, frozen=True):
    events: list[DeliveryView]
    attempts: list[AttemptView]


class Redelivery(msgspec.Struct, frozen=True):
    events: list[DeliveryView]


AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class ReplayWindow(msgspec.Struct, frozen=True):
    """Every dead delivery whose event was created in [since, until) is sent again."""

    since: AwareTime
    until: AwareTime | None = None


class ReplayResult(msgspec.Struct, frozen=True):
    replayed: int


def _encode_cursor(created_at: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{job_id}".encode()).decode().rstrip("=")


def _unix_time(moment: datetime, field: str) -> float:
    """A time as Unix seconds; times near year 1 or 9999 with an offset overflow: a 400."""
    try:
        seconds = moment.timestamp()
        datetime.fromtimestamp(seconds, UTC)  # representable in UTC too (it is logged so)
        return seconds
    except (ValueError, OverflowError, OSError):
        raise InvalidRequest(
            f"{field} is out of range", details=[{"field": field, "message": "out of range"}]
        ) from None


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, job_id = raw.split("|", 1)
        if not could_be_id(job_id):
            raise ValueError("not a job id")
        return float(created_at), job_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            "cursor is not one this API returned",
            details=[{"field": "cursor", "message": "not a valid cursor"}],
        ) from None


PreferHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Prefer",
        required=False,
        description=(
            "wait=N: hold the answer until the job ends or N seconds pass (capped by "
            "GATEWAY_PREFER_WAIT_MAX_S, 25 s by default); Preference-Applied says what was used"
        ),
    ),
]


async def _held(
    gateway: Gateway, job: JobRecord, prefer: str | None
) -> tuple[JobRecord, dict[str, str]]:
    """``Prefer: wait=N``: the job once it ended or N seconds passed, with the header saying
    the wait was applied; without a wait preference, the job as it is."""
    wait = applied_wait(prefer, gateway.runtime.settings.prefer_wait_max_s)
    if wait is None:
        return job, {}
    runtime = gateway.runtime
    job = await hold_until_ended(runtime.job_waiters, runtime.store.jobs, job, wait)
    return job, {"Preference-Applied": f"wait={wait}"}


def _last_event_id(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidRequest(
            "Last-Event-ID must be an event id this stream sent (a whole number)",
            details=[{"field": "Last-Event-ID", "message": "not an event id"}],
        )
    return value


async def _history_after(store: Store, job_id: str, after_id: int) -> list[JobEventRecord]:
    return await store.history.list_for_job(job_id, after_id=after_id, limit=STREAM_BATCH)


async def _has_ended(store: Store, job_id: str) -> bool:
    job = await store.jobs.get_job(job_id)
    return job is None or job.status.is_terminal


async def _sse_messages(frames: AsyncIterator[Frame]) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(data=None, retry=2000, comment="job events")
    async for frame in frames:
        if frame.id is None:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
        else:
            yield ServerSentEventMessage(data=frame.json, event=frame.kind, id=frame.id)


async def accept(
    request: Request[Any, Any, Any],
    client: ClientRecord,
    job_request: dict[str, Any],
    *,
    idempotency_key: str | None,
    traceparent: str | None = None,
) -> Accepted:
    """Intake for both surfaces (``/v1/jobs``, the drop-in ``/v2``): store, then wake the worker."""
    gateway = gateway_of(request)
    accepted = await accept_job(
        gateway.runtime,
        client,
        job_request,
        idempotency_key=idempotency_key,
        traceparent=traceparent,
    )
    request.state.job_id = accepted.job.id  # the access log's line names it (no line of its own)
    if gateway.worker is not None and not accepted.replayed:
        gateway.worker.wake()
    return accepted


IdempotencyKey = Annotated[
    str | None, HeaderParameter(name="Idempotency-Key", required=False, max_length=255)
]


class JobController(Controller):
    path = "/v1/jobs"
    tags = ["jobs"]
    security = CLIENT_SECURITY
    dependencies = {"client": Provide(current_client)}

    @post(
        "/",
        status_code=202,
        operation_class=JobRequestOperation,
        responses={
            200: ResponseSpec(
                data_container=JobView,
                description="Sent with Prefer: wait=N, and the job ended within the wait",
                generate_examples=False,
            ),
            **documented_errors(
                *INTAKE_ERRORS,
                Unauthorized,
                PayloadTooLarge,
                UnsupportedMediaType,
            ),
        },
        summary="Accept a video generation job",
        operation_id="createJob",
        description=(
            "Validates the request, stores it, and answers 202 once it is committed. The gateway "
            "then submits it upstream, polls it, and POSTs a signed webhook to callback_url. "
            "Send an Idempotency-Key header to make retries safe. With Prefer: wait=N the "
            "answer is held until the job ends (200 with the finished job) or N seconds pass "
            "(202 as usual)."
        ),
    )
    async def create_job(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        idempotency_key: IdempotencyKey = None,
        traceparent: Annotated[
            str | None,
            HeaderParameter(
                name="traceparent",
                required=False,
                description=(
                    "W3C trace context: stored with the job; its submission, polls and delivery "
                    "attempts become spans of this trace, and the webhook carries it on. An "
                    "invalid value is ignored."
                ),
            ),
        ] = None,
        prefer: PreferHeader = None,
    ) -> Response[JobView]:
        gateway = gateway_of(request)
        job_request = parse_job_request(
            request.headers.get("content-type", ""),
            await request.body(),
            gateway.runtime.rulebook,
        )
        accepted = await accept(
            request,
            client,
            job_request,
            idempotency_key=idempotency_key,
            traceparent=normalize_traceparent(traceparent),
        )
        headers = {"Location": f"/v1/jobs/{accepted.job.id}"}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        job, applied = await _held(gateway, accepted.job, prefer)
        headers |= applied
        if job.status.is_terminal and applied:
            deliveries = await gateway.runtime.store.deliveries.for_job(job.id)
            return Response(job_view(job, deliveries=deliveries), status_code=200, headers=headers)
        return Response(job_view(job), status_code=202, headers=headers)

    @get(
        "/",
        summary="List your jobs, newest first",
        operation_id="listJobs",
        operation_class=GatewayOperation,
        responses=documented_errors(InvalidRequest, Unauthorized),
    )
    async def list_jobs(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        status: FromQuery[JobStatus | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> JobPage:
        store = gateway_of(request).runtime.store
        before = _decode_cursor(cursor) if cursor else None
        jobs = await store.jobs.list_jobs(
            client_id=client.id,
            status=status.value if status else None,
            limit=limit + 1,
            before=before,
        )
        page, more = jobs[:limit], len(jobs) > limit
        next_cursor = _encode_cursor(page[-1].created_at, page[-1].id) if more else None
        return JobPage(data=[job_view(job) for job in page], next_cursor=next_cursor)

    @get(
        "/{job_id:str}",
        summary="Get a job, with its webhook delivery state",
        description="With Prefer: wait=N the answer is held until the job ends or N seconds pass.",
        operation_id="getJob",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def get_job(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        job_id: FromPath[str],
        prefer: PreferHeader = None,
    ) -> Response[JobView]:
        gateway = gateway_of(request)
        runtime = gateway.runtime
        job = await runtime.store.jobs.get_job(job_id, client_id=client.id)
        if job is None:
            raise NotFound(f"No job {job_id!r}")
        job, headers = await _held(gateway, job, prefer)
        view = job_view(
            job,
            deliveries=await runtime.store.deliveries.for_job(job.id),
            expected=runtime.durations.expected(job.model, job.resolution, job.duration),
        )
        return Response(view, status_code=200, headers=headers)

    @get(
        "/{job_id:str}/deliveries",
        summary="Every webhook event and attempt of a job",
        operation_id="listJobDeliveries",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def list_deliveries(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        job_id: FromPath[str],
    ) -> DeliveryLog:
        store = gateway_of(request).runtime.store
        job = await store.jobs.get_job(job_id, client_id=client.id)
        if job is None:
            raise NotFound(f"No job {job_id!r}")
        events = await store.deliveries.for_job(job.id)
        attempts = await store.deliveries.attempts_for_job(job.id)
        return DeliveryLog(
            events=[delivery_view(d) for d in events],
            attempts=[attempt_view(a) for a in attempts],
        )

    @get(
        "/{job_id:str}/events",
        summary="The job's history as Server-Sent Events, live until it ends",
        description=(
            "One event per change (accepted, submitting, submitted, each upstream status, "
            "completed or failed, each webhook attempt, redelivery requests); the SSE id is the "
            "history row id, the event name its kind, the data the row as JSON. The stream ends "
            "after the terminal event and the attempts already recorded. Send Last-Event-ID "
            "(EventSource does on reconnect) to resume after an id without loss."
        ),
        operation_id="streamJobEvents",
        operation_class=GatewayOperation,
        responses=documented_errors(InvalidRequest, Unauthorized, NotFound),
        media_type="text/event-stream",
    )
    async def job_events(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        job_id: FromPath[str],
        last_event_id: Annotated[
            str | None, HeaderParameter(name="Last-Event-ID", required=False)
        ] = None,
    ) -> ServerSentEvent:
        runtime = gateway_of(request).runtime
        job = await runtime.store.jobs.get_job(job_id, client_id=client.id)
        if job is None:
            raise NotFound(f"No job {job_id!r}")
        frames = job_event_frames(
            job.id,
            after_id=_last_event_id(last_event_id),
            fetch=functools.partial(_history_after, runtime.store, job.id),
            has_ended=functools.partial(_has_ended, runtime.store, job.id),
            waiters=runtime.job_waiters,
            poll_s=runtime.settings.event_stream_poll_s,
        )
        return ServerSentEvent(_sse_messages(frames), headers={"Cache-Control": "no-store"})

    @post(
        "/{job_id:str}/redeliver",
        status_code=202,
        summary="Send a job's webhook events again (same event ids, fresh signatures)",
        operation_id="redeliverJob",
        operation_class=GatewayOperation,
        responses=documented_errors(NothingToRedeliver, Unauthorized, NotFound),
    )
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        job_id: FromPath[str],
    ) -> Redelivery:
        gateway = gateway_of(request)
        store = gateway.runtime.store
        job = await store.jobs.get_job(job_id, client_id=client.id)
        if job is None:
            raise NotFound(f"No job {job_id!r}")
        events = await redeliver_job(gateway.runtime, job)
        gateway.wake()
        return Redelivery(events=[delivery_view(d) for d in events])


class DeliveryController(Controller):
    path = "/v1/deliveries"
    tags = ["deliveries"]
    security = CLIENT_SECURITY
    dependencies = {"client": Provide(current_client)}

    @post(
        "/replay",
        status_code=202,
        summary="Send again every dead delivery of yours in a time window (after an outage)",
        operation_id="replayDeliveries",
        before_request=keep_body,
        operation_class=GatewayOperation,
        responses=documented_errors(InvalidRequest, Unauthorized),
    )
    async def replay(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        data: JSONBody[ReplayWindow],
    ) -> ReplayResult:
        gateway = gateway_of(request)
        # Litestar converts leniently (a number becomes a time); this API wants RFC 3339 strings.
        body = await request.body()
        try:
            data = msgspec.json.decode(body, type=ReplayWindow)
        except msgspec.ValidationError as exc:
            wrong = wording.explain(exc, ReplayWindow, msgspec.json.decode(body))
            raise InvalidRequest(
                wording.summary("The replay window is invalid", [wrong]),
                details=[{"field": wrong.field, "message": wrong.message}],
            ) from None
        since = _unix_time(data.since, "since")
        until = _unix_time(data.until, "until") if data.until else gateway.runtime.clock() + 1
        count = await replay_dead(gateway.runtime, client_id=client.id, since=since, until=until)
        if count:
            gateway.wake()
        return ReplayResult(replayed=count)


__all__ = ["DeliveryController", "JobController"]
