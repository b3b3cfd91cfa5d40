"""What the gateway answers, as typed, read-only objects.

Each keeps the whole JSON it was built from in ``raw``: fields the gateway adds later are there
before this package names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERMINAL_STATUSES = frozenset({"completed", "failed"})


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from the gateway (``…Z``) as an aware datetime; None when absent."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class JobError:
    code: str
    message: str
    upstream: dict[str, Any] | None = None


@dataclass(frozen=True)
class Delivery:
    """One webhook event of a job and its delivery state."""

    event_id: str
    event_type: str
    state: str  # pending | delivered | dead | gone
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Delivery:
        return cls(
            event_id=str(data["event_id"]),
            event_type=str(data.get("event_type", "")),
            state=str(data.get("state", "")),
            attempts=int(data.get("attempts") or 0),
            last_status_code=data.get("last_status_code"),
            last_error=_str(data.get("last_error")),
            next_attempt_at=parse_time(data.get("next_attempt_at")),
            delivered_at=parse_time(data.get("delivered_at")),
            created_at=parse_time(data.get("created_at")),
        )


@dataclass(frozen=True)
class Attempt:
    """One POST of a webhook event to the callback URL."""

    event_id: str
    attempt: int
    attempted_at: datetime | None
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        return cls(
            event_id=str(data["event_id"]),
            attempt=int(data.get("attempt") or 0),
            attempted_at=parse_time(data.get("attempted_at")),
            status_code=data.get("status_code"),
            latency_ms=float(data.get("latency_ms") or 0.0),
            error=_str(data.get("error")),
            response_excerpt=_str(data.get("response_excerpt")),
        )


@dataclass(frozen=True)
class Video:
    """A finished job's video: the gateway's kept copy (``kept``), or why not
    (``not_kept_reason``). ``url`` is what to download: a signed link that needs no key, valid
    until ``expires_at``; ``state`` is ``kept``, ``not_kept``, ``deleted`` or ``expired``."""

    url: str | None
    upstream_url: str | None
    expires_at: datetime | None
    kept: bool
    state: str
    sha256: str | None = None
    bytes: int | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    poster_url: str | None = None
    not_kept_reason: str | None = None
    not_kept_message: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Video:
        def _int(value: Any) -> int | None:
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return cls(
            url=_str(data.get("url")),
            upstream_url=_str(data.get("upstream_url")),
            expires_at=parse_time(data.get("expires_at")),
            kept=data.get("kept") is True,
            state=str(data.get("state", "")),
            sha256=_str(data.get("sha256")),
            bytes=_int(data.get("bytes")),
            content_type=_str(data.get("content_type")),
            width=_int(data.get("width")),
            height=_int(data.get("height")),
            duration_s=_float(data.get("duration_s")),
            poster_url=_str(data.get("poster_url")),
            not_kept_reason=_str(data.get("not_kept_reason")),
            not_kept_message=_str(data.get("not_kept_message")),
        )


@dataclass(frozen=True)
class Job:
    """A job as ``GET /v1/jobs/{id}`` returns it (and as every webhook's ``data``)."""

    id: str
    status: str
    model: str
    created_at: datetime | None
    updated_at: datetime | None
    request: dict[str, Any]
    metadata: dict[str, str]
    callback_url: str | None = None
    generation_id: str | None = None
    video_url: str | None = None
    usage: dict[str, Any] | None = None
    error: JobError | None = None
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    deadline_at: datetime | None = None
    # When the gateway removes the job's records (GET only; None while it runs or is owed a
    # webhook).
    removes_at: datetime | None = None
    delivery: Delivery | None = None
    expected_duration_s: float | None = None
    # Which of the job's events are sent as webhooks (queued, generating, completed, failed).
    events: list[str] = field(default_factory=list)
    # False for a model missing from the gateway's catalogue: only the common checks applied.
    body_checked: bool = True
    upstream_status: str | None = None  # the upstream's own word for the status, as last seen
    video: Video | None = None  # once completed: the kept copy (video.url), or why not
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Completed or failed: nothing about the job changes any more (its webhooks may)."""
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        error = data.get("error")
        delivery = data.get("delivery")
        return cls(
            id=str(data["id"]),
            status=str(data.get("status", "")),
            model=str(data.get("model", "")),
            created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")),
            request=_dict(data.get("request")),
            metadata={str(k): str(v) for k, v in _dict(data.get("metadata")).items()},
            callback_url=_str(data.get("callback_url")),
            generation_id=_str(data.get("generation_id")),
            video_url=_str(data.get("video_url")),
            usage=data.get("usage") if isinstance(data.get("usage"), dict) else None,
            error=(
                JobError(
                    code=str(error.get("code", "")),
                    message=str(error.get("message", "")),
                    upstream=error.get("upstream"),
                )
                if isinstance(error, dict)
                else None
            ),
            submitted_at=parse_time(data.get("submitted_at")),
            finished_at=parse_time(data.get("finished_at")),
            deadline_at=parse_time(data.get("deadline_at")),
            removes_at=parse_time(data.get("removes_at")),
            delivery=Delivery.from_json(delivery) if isinstance(delivery, dict) else None,
            expected_duration_s=_float(data.get("expected_duration_s")),
            events=[str(e) for e in data.get("events") or [] if isinstance(e, str)],
            body_checked=data.get("body_checked") is not False,
            upstream_status=_str(data.get("upstream_status")),
            video=Video.from_json(data["video"]) if isinstance(data.get("video"), dict) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class JobPage:
    """One page of ``GET /v1/jobs``; ``next_cursor`` is None on the last page."""

    jobs: list[Job]
    next_cursor: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobPage:
        return cls(
            jobs=[Job.from_json(item) for item in data.get("data") or []],
            next_cursor=_str(data.get("next_cursor")),
        )


@dataclass(frozen=True)
class DeliveryLog:
    """Every webhook event of a job and every attempt to deliver them."""

    events: list[Delivery]
    attempts: list[Attempt]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeliveryLog:
        return cls(
            events=[Delivery.from_json(item) for item in data.get("events") or []],
            attempts=[Attempt.from_json(item) for item in data.get("attempts") or []],
            raw=dict(data),
        )


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: its id (deduplicate on it), type, time, and the job it carries."""

    id: str
    type: str
    timestamp: datetime | None
    job: Job
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
