"""The webhook event: its types, its body bytes, its id."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Literal, get_args

import msgspec

from gateway.domain.jobs import JobStatus

EVENT_TYPE_PREFIX = "video.generation."
# The statuses a caller can ask to be told about; each one's event type is derived from it.
NOTIFIABLE = (JobStatus.QUEUED, JobStatus.GENERATING, JobStatus.COMPLETED, JobStatus.FAILED)
EVENT_TYPES: dict[JobStatus, str] = {status: EVENT_TYPE_PREFIX + status for status in NOTIFIABLE}

# Operational events: about a client rather than one of its jobs (no ``job_id``), sent to the
# client's subscriptions that name them in their events.
SUBSCRIPTION_DISABLED = "subscription.disabled"
DELIVERY_EXHAUSTED = "delivery.exhausted"
OPERATIONAL_EVENT_TYPES: tuple[str, ...] = (SUBSCRIPTION_DISABLED, DELIVERY_EXHAUSTED)

# The same event types as a type, for the API's documents (a test keeps them equal).
EventType = Literal[
    "video.generation.queued",
    "video.generation.generating",
    "video.generation.completed",
    "video.generation.failed",
    "subscription.disabled",
    "delivery.exhausted",
]

_MEDIA_FIELDS = ("image_url", "video_url")
OMITTED = "(inline data omitted)"


ALL_EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)


def event_type_for(status: JobStatus) -> str:
    return EVENT_TYPES[status]


def event_body(event_type: str, timestamp_iso: str, data: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and sent: ``{"type", "timestamp", "data"}``."""
    return msgspec.json.encode({"type": event_type, "timestamp": timestamp_iso, "data": data})


def new_event_id(random_bytes: bytes) -> str:
    """``msg_`` + the random bytes (chosen by the caller) in lower-case base32."""
    return "msg_" + base64.b32encode(random_bytes).decode().rstrip("=").lower()


def _strip(value: Any) -> Any:
    if isinstance(value, str) and value[:5].lower() == "data:":
        return value.split(",", 1)[0] + "," + OMITTED
    return value


def strip_inline_media(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request without base64 payloads, so views and webhooks stay small."""
    out = dict(request)
    for name in _MEDIA_FIELDS:
        if name in out:
            out[name] = _strip(out[name])
    if isinstance(out.get("reference_image_urls"), list):
        out["reference_image_urls"] = [_strip(v) for v in out["reference_image_urls"]]
    return out
