"""Subscriptions (REST hooks) as use cases: subscribe, list, unsubscribe, and sample events.

The sample list is what Zapier's ``performList`` shows while a Zap is built: recent real events
of the client, in exactly the webhook body's shape (``{"type", "timestamp", "data"}``), or one
documented example when the client has none yet.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from gateway.clock import iso
from gateway.domain import wording
from gateway.domain.broker_targets import is_broker_url
from gateway.domain.generation import DEFAULT_MODEL, CallbackUrl
from gateway.domain.jobs import ErrorCode, JobStatus
from gateway.domain.subscriptions import MAX_MODELS, UnknownEvent, normalize_events
from gateway.domain.wording import Wrong
from gateway.errors import InvalidRequest, NotFound, TooManySubscriptions
from gateway.ids import new_subscription_id
from gateway.service.broker_targets import check_broker_target, check_http_target, masked_url
from gateway.service.destinations import event_payload
from gateway.service.intake import check_destination
from gateway.service.runtime import Runtime
from gateway.store.records import ClientRecord, JobRecord, SubscriptionRecord

MAX_SUBSCRIPTIONS_PER_CLIENT = 100
SAMPLE_SIZE = 3
ModelName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class NewSubscription(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /v1/subscriptions``: where to send which events (Zapier's subscribe step)."""

    target_url: CallbackUrl
    events: list[str] | None = None  # short names or full types; default completed + failed
    models: Annotated[list[ModelName], msgspec.Meta(max_length=MAX_MODELS)] | None = None


class SubscriptionView(msgspec.Struct, frozen=True):
    id: str
    target_url: str
    events: list[str]
    models: list[str] | None
    active: bool  # false once its target answered 410 Gone
    created_at: str | None
    deactivated_at: str | None = None
    deactivated_reason: str | None = None


class SubscriptionList(msgspec.Struct, frozen=True):
    data: list[SubscriptionView]


def subscription_view(sub: SubscriptionRecord, masked: str | None = None) -> SubscriptionView:
    """``masked``: a broker target's credentials as shown (``app:***``), if it has some."""
    return SubscriptionView(
        id=sub.id,
        target_url=masked_url(sub.target_url, masked),
        events=sub.events,
        models=sub.models,
        active=sub.active,
        created_at=iso(sub.created_at),
        deactivated_at=iso(sub.deactivated_at),
        deactivated_reason=sub.deactivated_reason,
    )


class Subscriptions:
    """The subscriptions service (the API's REST hooks), over the use cases below."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    async def create(self, client: ClientRecord, request: NewSubscription) -> SubscriptionView:
        record = await subscribe(self._rt, client, request)
        masked = await self._rt.store.broker_credentials.masked([record.id])
        return subscription_view(record, masked.get(record.id))

    async def listing(self, client_id: str) -> SubscriptionList:
        subs = await self._rt.store.subscriptions.list_for_client(client_id)
        masked = await self._rt.store.broker_credentials.masked([s.id for s in subs])
        return SubscriptionList(data=[subscription_view(s, masked.get(s.id)) for s in subs])

    async def delete(self, subscription_id: str, *, client_id: str) -> None:
        """Unsubscribe; another client's subscription is a 404 like an unknown one."""
        if not await self._rt.store.subscriptions.delete(subscription_id, client_id=client_id):
            raise NotFound(f"No subscription {subscription_id!r}")
        self._rt.log.info(
            "subscription_deleted", subscription_id=subscription_id, client_id=client_id
        )

    async def sample(
        self, client: ClientRecord, *, events: list[str] | None, models: list[str] | None
    ) -> list[dict[str, Any]]:
        return await sample_events(self._rt, client, events=events, models=models)


async def subscribe(
    rt: Runtime, client: ClientRecord, request: NewSubscription
) -> SubscriptionRecord:
    try:
        events = normalize_events(request.events)
    except UnknownEvent as exc:
        raise InvalidRequest(
            wording.summary("The subscription is invalid", [Wrong("events", str(exc))]),
            details=[{"field": "events", "message": str(exc)}],
        ) from None
    target_url, credentials = request.target_url, None
    if is_broker_url(target_url):  # a message broker: the client's allow-list decides
        checked = check_broker_target(rt, client, target_url)
        target_url, credentials = checked.url, checked.credentials
    else:
        check_http_target(target_url)
        await check_destination(rt.guard, target_url, field="target_url")
    record = SubscriptionRecord(
        id=new_subscription_id(),
        client_id=client.id,
        target_url=target_url,
        events=events,
        models=sorted(set(request.models)) if request.models else None,
        active=True,
        created_at=rt.clock(),
    )
    if not await rt.store.subscriptions.create(
        record, limit=MAX_SUBSCRIPTIONS_PER_CLIENT, credentials=credentials
    ):
        raise TooManySubscriptions(
            f"At most {MAX_SUBSCRIPTIONS_PER_CLIENT} active subscriptions per client; "
            "delete some first."
        )
    rt.log.info("subscription_created", subscription_id=record.id, client_id=client.id)
    return record


async def sample_events(
    rt: Runtime, client: ClientRecord, *, events: list[str] | None, models: list[str] | None
) -> list[dict[str, Any]]:
    """Recent real terminal events of the client, newest first; when there are none, one
    documented example that matches the filters (the first event asked for, of the first
    model asked for)."""
    try:
        wanted = normalize_events(events)
    except UnknownEvent as exc:
        raise InvalidRequest(
            wording.summary("The subscription is invalid", [Wrong("events", str(exc))]),
            details=[{"field": "events", "message": str(exc)}],
        ) from None
    statuses = [s for s in (JobStatus.COMPLETED, JobStatus.FAILED) if s.value in wanted]
    jobs = await rt.store.jobs.recent_finished(
        client_id=client.id,
        statuses=[s.value for s in statuses],
        models=models or None,
        limit=SAMPLE_SIZE,
    )
    if not jobs:
        shown = statuses[0] if statuses else JobStatus(wanted[0])
        return [example_event(shown, model=models[0] if models else DEFAULT_MODEL)]
    return [
        msgspec.json.decode(event_payload(job, job.status, job.finished_at or job.updated_at))
        for job in jobs
    ]


EXAMPLE_AT = 1_764_000_000.0  # 2025-11-24T16:00:00Z
EXAMPLE_PROMPT = "Mona Lisa puts on glasses with her hands."


def _example_job(status: JobStatus, model: str) -> JobRecord:
    """A job of ``model`` as it stands when it enters ``status``, with made-up values."""
    at = EXAMPLE_AT
    ended = status.is_terminal
    completed = status == JobStatus.COMPLETED
    moment = {
        JobStatus.QUEUED: at + 2,
        JobStatus.GENERATING: at + 20,
    }.get(status, at + 160)
    upstream = {JobStatus.FAILED: "error"}.get(status, status.value)
    error = None
    if status == JobStatus.FAILED:
        error = {
            "code": ErrorCode.GENERATION_FAILED.value,
            "message": "The upstream reported that the generation failed: content moderation",
            "upstream": {"name": "GenerationError", "message": "content moderation"},
        }
    return JobRecord(
        id="job_example00000000000000000",
        client_id="cl_example",
        status=status,
        request={"model": model, "prompt": EXAMPLE_PROMPT},
        model=model,
        resolution=None,
        duration=None,
        callback_url=None,
        metadata={"order_id": "42"},
        events=["completed", "failed"],
        generation_id="rLCxsu-1_rTBBGbBC6JFJ",
        upstream_status=upstream,
        video_url="https://cdn.example.com/videos/example.mp4" if completed else None,
        usage={"credits_used": 1260000, "usd_spent": 0.63} if completed else None,
        error=error,
        created_at=at,
        updated_at=moment,
        submitted_at=at + 1,
        ready_at=moment if completed else None,
        finished_at=moment if ended else None,
        deadline_at=at + 1800,
        next_run_at=None,
        submit_attempts=1,
        poll_count=8 if ended else 1,
        poll_errors=0,
        poll_not_found=0,
        lease_token=None,
        lease_until=None,
        takeovers=0,
    )


def example_event(
    status: JobStatus = JobStatus.COMPLETED, *, model: str = DEFAULT_MODEL
) -> dict[str, Any]:
    """The event of a job of ``model`` entering ``status``, built by the same code as a real
    one (so the shapes agree)."""
    job = _example_job(status, model)
    return dict(msgspec.json.decode(event_payload(job, status, job.updated_at)))
