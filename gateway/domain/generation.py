"""A job request: the upstream's generation fields with the upstream's own rules, plus ours.

Checked before any money is spent. Numbers and booleans sent as strings (``"duration": "7"``, as
the upstream's own examples and Zapier do) are coerced, not refused: decode with
``strict=False``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

import msgspec

DEFAULT_MODEL = "alibaba/happyhorse-1-0"
SUPPORTED_MODELS = frozenset({DEFAULT_MODEL})

AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4"]
Resolution = Literal["720p", "1080p"]
AudioSetting = Literal["auto", "origin"]
EventName = Literal["queued", "generating", "completed", "failed"]
DEFAULT_EVENTS: tuple[str, ...] = ("completed", "failed")

Prompt = Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
MediaUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000_000)]
CallbackUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
MetadataKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
MetadataValue = Annotated[str, msgspec.Meta(max_length=500)]


class JobRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``POST /v1/jobs``: what to generate, where to send the result, what to echo back."""

    prompt: Prompt
    model: str = DEFAULT_MODEL
    image_url: MediaUrl | None = None
    reference_image_urls: Annotated[list[MediaUrl], msgspec.Meta(max_length=9)] | None = None
    video_url: MediaUrl | None = None
    aspect_ratio: AspectRatio | None = None
    resolution: Resolution | None = None
    duration: Annotated[int, msgspec.Meta(ge=3, le=15)] | None = None
    audio_setting: AudioSetting | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)] | None = None
    watermark: bool | None = None
    callback_url: CallbackUrl | None = None
    metadata: Annotated[dict[MetadataKey, MetadataValue], msgspec.Meta(max_length=50)] | None = None
    events: Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=4)] | None = None


UPSTREAM_FIELDS = (
    "model",
    "prompt",
    "image_url",
    "reference_image_urls",
    "video_url",
    "aspect_ratio",
    "resolution",
    "duration",
    "audio_setting",
    "seed",
    "watermark",
)

_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_DATA_URI = re.compile(r"^data:(image|video)/[a-z0-9.+-]+;base64,", re.IGNORECASE)


class RuleBroken(msgspec.Struct, frozen=True):
    field: str
    message: str


def check_rules(request: JobRequest, *, metadata_max_bytes: int) -> list[RuleBroken]:
    """The rules a type cannot say. An empty list means the request may be submitted."""
    broken: list[RuleBroken] = []
    if request.model not in SUPPORTED_MODELS:
        broken.append(
            RuleBroken(
                "model", f"unsupported model; supported: {', '.join(sorted(SUPPORTED_MODELS))}"
            )
        )
    if not request.prompt.strip():
        broken.append(RuleBroken("prompt", "must not be blank"))
    media: list[tuple[str, str, str]] = []
    if request.image_url is not None:
        media.append(("image_url", request.image_url, "image"))
    for i, url in enumerate(request.reference_image_urls or []):
        media.append((f"reference_image_urls[{i}]", url, "image"))
    if request.video_url is not None:
        media.append(("video_url", request.video_url, "video"))
    for name, url, kind in media:
        data_uri = _DATA_URI.match(url)
        if data_uri is not None:
            if data_uri.group(1).lower() != kind:
                broken.append(RuleBroken(name, f"a data URI here must hold {kind} data"))
        elif not _HTTP_URL.match(url):
            broken.append(RuleBroken(name, f"must be an http(s) URL or a base64 data:{kind}/… URI"))
    if request.audio_setting is not None and request.video_url is None:
        broken.append(RuleBroken("audio_setting", "only applies when video_url is given"))
    if request.metadata is not None:
        size = len(msgspec.json.encode(request.metadata))
        if size > metadata_max_bytes:
            broken.append(
                RuleBroken("metadata", f"is {size} bytes as JSON; at most {metadata_max_bytes}")
            )
    return broken


def upstream_body(request: JobRequest) -> dict[str, Any]:
    """The body to POST upstream: only the generation fields, only those that were given."""
    body: dict[str, Any] = {}
    for name in UPSTREAM_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    return body


def request_fingerprint(request: JobRequest) -> str:
    """A stable hash of what was asked, for idempotency: same fields, same hash."""
    canonical = msgspec.json.encode(msgspec.to_builtins(request), order="sorted")
    return hashlib.sha256(canonical).hexdigest()
