"""Accepting a job: check it, limit it, store it. A 202 is sent only after the commit (of the
group of concurrent requests it joined: ``gateway.store.group_commit``)."""

from __future__ import annotations

import math
from typing import Any

from gateway.domain import wording
from gateway.domain.addresses import CallbackUrlRejected
from gateway.domain.generation import DEFAULT_EVENTS, CheckedJob, check_job
from gateway.errors import (
    CallbackRejected,
    GatewayError,
    IdempotencyKeyReused,
    InvalidRequest,
    RateLimited,
    TooManyJobsInFlight,
)
from gateway.ids import new_job_id
from gateway.service.ports import CallbackGuard
from gateway.service.runtime import Runtime
from gateway.store.jobs import (
    Admission,
    Created,
    IdempotencyClaim,
    IntakeRequest,
    KeyReused,
    OverRateLimit,
    Replayed,
    TooManyInFlight,
)
from gateway.store.records import ClientRecord, JobRecord, NewJob

RATE_WINDOW_S = 60.0


class Accepted:
    __slots__ = ("job", "replayed")

    def __init__(self, job: JobRecord, *, replayed: bool) -> None:
        self.job = job
        self.replayed = replayed


# Everything ``accept_job`` raises: each route that accepts a job documents these.
INTAKE_ERRORS: tuple[type[GatewayError], ...] = (
    InvalidRequest,
    CallbackRejected,
    IdempotencyKeyReused,
    RateLimited,
    TooManyJobsInFlight,
)


async def check_destination(guard: CallbackGuard, url: str, *, field: str) -> None:
    """A URL the gateway will POST webhooks to (a callback, a subscription's target) passes the
    SSRF guard, or the request is refused naming ``field``."""
    try:
        await guard.check_url(url)
    except CallbackUrlRejected as exc:
        raise CallbackRejected(
            f"{field} is refused: {exc}", details=[{"field": field, "message": str(exc)}]
        ) from None


async def accept_job(
    rt: Runtime,
    client: ClientRecord,
    data: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    traceparent: str | None = None,
) -> Accepted:
    """Accept a job body given as a plain dict (from JSON, a form, or an upstream-shaped body)."""
    settings = rt.settings
    request = check_job(
        rt.rulebook,
        data,
        metadata_max_bytes=settings.metadata_max_bytes,
        allow_unlisted=settings.allow_unlisted_models,
    )
    if not isinstance(request, CheckedJob):
        raise InvalidRequest(
            wording.summary("The job request is invalid", request),
            details=[{"field": b.field, "message": b.message} for b in request],
        )
    fields = request.gateway
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise InvalidRequest("Idempotency-Key must be 1 to 255 characters")
    if fields.callback_url is not None:
        await check_destination(rt.guard, fields.callback_url, field="callback_url")

    now = rt.clock()
    new = NewJob(
        id=new_job_id(),
        client_id=client.id,
        request=request.body,
        model=request.model,
        resolution=request.resolution,
        duration=request.duration,
        callback_url=fields.callback_url,
        metadata=dict(fields.metadata or {}),
        events=list(fields.events or DEFAULT_EVENTS),
        deadline_at=now + settings.job_deadline_s,
        body_checked=request.checked,
        traceparent=traceparent,
        keep_output=fields.keep_output is not False,
    )
    claim = None
    if idempotency_key is not None:
        claim = IdempotencyClaim(
            key=idempotency_key,
            request_hash=request.fingerprint(),
            ttl_s=settings.idempotency_ttl_s,
        )
    admission = Admission(
        window_start=math.floor(now / RATE_WINDOW_S) * RATE_WINDOW_S,
        rate_limit=settings.rate_limit_per_minute,
        max_in_flight=settings.max_in_flight_per_client,
    )
    # Committed with the other requests of its batch before this returns (group commit).
    outcome = await rt.store.intake.submit(
        IntakeRequest(new=new, now=now, idempotency=claim, admission=admission)
    )
    if isinstance(outcome, OverRateLimit):
        raise RateLimited(
            f"At most {settings.rate_limit_per_minute} jobs a minute per client; try again later.",
            retry_after_s=max(1.0, outcome.window_start + RATE_WINDOW_S - now),
        )
    if isinstance(outcome, TooManyInFlight):
        raise TooManyJobsInFlight(
            f"This client already has {outcome.in_flight} jobs in flight "
            f"(at most {settings.max_in_flight_per_client}); wait for some to finish."
        )
    if isinstance(outcome, KeyReused):
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body "
            f"(for job {outcome.job_id}). Use a new key for a new job, or resend the same body.",
        )
    if isinstance(outcome, Replayed):
        return Accepted(outcome.job, replayed=True)
    assert isinstance(outcome, Created)
    rt.metrics.jobs_accepted.inc()
    return Accepted(outcome.job, replayed=False)
