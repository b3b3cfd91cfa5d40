"""``/v1/jobs``: accept a job, read it, list them, see and replay its webhook deliveries.

Handlers are thin: parse, call a use case, return a Struct. A client only ever sees its own
jobs; another client's job id answers 404, exactly like an unknown id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter
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
from gateway.http.access import arrived_at
from gateway.http.auth import CLIENT_SECURITY, current_client
from gateway.http.bodies import read_body, read_job_request
from gateway.http.errors import documented_errors
from gateway.http.openapi import GatewayOperation, JobRequestOperation, body_operation
from gateway.http.prefer import applied_wait
from gateway.observability.tracing import normalize_traceparent
from gateway.service import Services
from gateway.service.event_stream import Frame
from gateway.service.intake import INTAKE_ERRORS, Accepted
from gateway.service.jobs import DeliveryLog, JobPage, Jobs
from gateway.service.views import (
    DeliveryView,
    JobView,
    job_view,
)
from gateway.store.records import ClientRecord, JobRecord


class Redelivery(msgspec.Struct, frozen=True):
    events: list[DeliveryView]


AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class ReplayWindow(msgspec.Struct, frozen=True):
    """Every dead delivery whose event was created in [since, until) is sent again."""

    since: AwareTime
    until: AwareTime | None = None


class ReplayResult(msgspec.Struct, frozen=True):
    replayed: int


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
    request: Request[Any, Any, Any], jobs: Jobs, job: JobRecord, prefer: str | None
) -> tuple[JobRecord, dict[str, str]]:
    """``Prefer: wait=N``: the job once it ended or N seconds passed since the request arrived
    (not since the handler began to wait: a busy server must not stretch the caller's bound),
    with the header saying the wait was applied; without a wait preference, the job as it is."""
    wait = applied_wait(prefer, jobs.wait_cap_s)
    if wait is None:
        return job, {}
    deadline = arrived_at(request.state) + wait
    return await jobs.held(job, deadline=deadline), {"Preference-Applied": f"wait={wait}"}


# History row ids are 64-bit (migration 0008): an id past this no row can have, and the
# database could not compare it (PostgreSQL's bigint, SQLite's integer overflow).
LARGEST_EVENT_ID = 2**63 - 1


def _last_event_id(raw: str | None) -> int:
    """The id a resumed stream starts after, checked before the response starts (a failure
    after the 200's headers could only reset the connection)."""
    if raw is None or not raw.strip():
        return 0
    text = raw.strip()
    value = int(text) if text.isascii() and text.isdigit() else -1
    if not 0 <= value <= LARGEST_EVENT_ID:
        expected = f"an event id this stream sent (a whole number from 0 to {LARGEST_EVENT_ID})"
        message = wording.must_be(expected, text)
        raise InvalidRequest(
            wording.summary("The request is invalid", [wording.Wrong("Last-Event-ID", message)]),
            details=[{"field": "Last-Event-ID", "message": message}],
        )
    return value


async def _sse_messages(frames: AsyncIterator[Frame]) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(data=None, retry=2000, comment="job events")
    async for frame in frames:
        if frame.id is None:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
        else:
            yield ServerSentEventMessage(data=frame.json, event=frame.kind, id=frame.id)


async def accept(
    request: Request[Any, Any, Any],
    jobs: Jobs,
    client: ClientRecord,
    job_request: dict[str, Any],
    *,
    idempotency_key: str | None,
    traceparent: str | None = None,
) -> Accepted:
    """Intake for both surfaces (``/v1/jobs``, the drop-in ``/v2``)."""
    accepted = await jobs.accept(
        client, job_request, idempotency_key=idempotency_key, traceparent=traceparent
    )
    request.state.job_id = accepted.job.id  # the access log's line names it (no line of its own)
    return accepted


async def owned_job(
    job_id: FromPath[str],
    client: NamedDependency[ClientRecord],
    services: NamedDependency[Services],
) -> JobRecord:
    """Litestar dependency: the path's job, if it is the calling client's; else 404."""
    return await services.jobs.owned(job_id, client_id=client.id)


IdempotencyKey = Annotated[
    str | None, HeaderParameter(name="Idempotency-Key", required=False, max_length=255)
]


class JobController(Controller):
    path = "/v1/jobs"
    tags = ["jobs"]
    security = CLIENT_SECURITY
    dependencies = {"client": Provide(current_client), "job": Provide(owned_job)}

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
        services: NamedDependency[Services],
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
        job_request = await read_job_request(request, services.jobs.rulebook)
        accepted = await accept(
            request,
            services.jobs,
            client,
            job_request,
            idempotency_key=idempotency_key,
            traceparent=normalize_traceparent(traceparent),
        )
        headers = {"Location": f"/v1/jobs/{accepted.job.id}"}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        job, applied = await _held(request, services.jobs, accepted.job, prefer)
        headers |= applied
        if job.status.is_terminal and applied:
            view = await services.jobs.view(job, expected=False)
            return Response(view, status_code=200, headers=headers)
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
        services: NamedDependency[Services],
        status: FromQuery[JobStatus | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> JobPage:
        return await services.jobs.page(
            client_id=client.id,
            status=status.value if status else None,
            limit=limit,
            cursor=cursor,
        )

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
        services: NamedDependency[Services],
        job: NamedDependency[JobRecord],
        prefer: PreferHeader = None,
    ) -> Response[JobView]:
        job, headers = await _held(request, services.jobs, job, prefer)
        return Response(await services.jobs.view(job), status_code=200, headers=headers)

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
        services: NamedDependency[Services],
        job: NamedDependency[JobRecord],
    ) -> DeliveryLog:
        return await services.jobs.delivery_log(job)

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
        services: NamedDependency[Services],
        job: NamedDependency[JobRecord],
        last_event_id: Annotated[
            str | None, HeaderParameter(name="Last-Event-ID", required=False)
        ] = None,
    ) -> ServerSentEvent:
        frames = services.jobs.events(job, after_id=_last_event_id(last_event_id))
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
        services: NamedDependency[Services],
        job: NamedDependency[JobRecord],
    ) -> Redelivery:
        return Redelivery(events=await services.jobs.redeliver(job))

    @delete(
        "/{job_id:str}/video",
        status_code=200,
        summary="Delete a job's kept video (its link then answers 410)",
        description=(
            "Removes the kept video and its poster from the gateway's store; the job view then "
            "says video.state deleted. Deleting it again changes nothing. 404 when the job has "
            "no kept video."
        ),
        operation_id="deleteJobVideo",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def delete_video(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
        job: NamedDependency[JobRecord],
    ) -> Response[JobView]:
        updated = await services.videos.delete(job)
        return Response(await services.jobs.view(updated), status_code=200)


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
        operation_class=body_operation(ReplayWindow),
        responses=documented_errors(
            InvalidRequest, Unauthorized, PayloadTooLarge, UnsupportedMediaType
        ),
    )
    async def replay(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
    ) -> ReplayResult:
        data = await read_body(request, ReplayWindow, lead="The replay window is invalid")
        since = _unix_time(data.since, "since")
        until = _unix_time(data.until, "until") if data.until else None
        return ReplayResult(
            replayed=await services.jobs.replay(client_id=client.id, since=since, until=until)
        )


__all__ = ["DeliveryController", "JobController"]
