"""The finished video as callers see it (issue 26): the ``video`` object of a job's view and of
its completion webhook, and the ``video_url`` beside it.

``video.url`` is the gateway's stable signed link while the video is kept (``state: kept``),
the upstream's own link when it was not (``not_kept``: the caller opted out, keeping is off, or
the copy failed — ``not_kept_reason`` says which), and null once the kept video was removed
(``deleted`` by its caller, ``expired`` at the end of its retention). ``video_url`` is
``video.url`` when there is one, else the upstream's link as before.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from gateway.clock import iso
from gateway.domain.jobs import JobStatus
from gateway.domain.outputs import link_expiry
from gateway.store.records import JobRecord

VideoState = Literal["kept", "not_kept", "deleted", "expired"]

# Why a video was not kept, beside the copy's own failure reasons (KeepFailureReason).
OPTED_OUT = "opted_out"  # the job said "keep_output": false
KEEPING_OFF = "keeping_off"  # GATEWAY_OUTPUTS=link when it completed


class VideoView(msgspec.Struct, frozen=True):
    url: str | None  # what to download: see the module doc
    upstream_url: str | None  # the upstream's link (it expires; see expires_at)
    expires_at: str | None  # when ``url`` stops working: the retention's end, or the link's own
    kept: bool
    state: VideoState
    sha256: str | None = None
    bytes: int | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    poster_url: str | None = None
    # When not kept: dead_link, source_refused, too_big, not_video, blocked_source,
    # too_many_redirects, source_unavailable, network, timeout, truncated, store_unavailable,
    # disk_full, opted_out or keeping_off; and a sentence for people.
    not_kept_reason: str | None = None
    not_kept_message: str | None = None


def video_view(job: JobRecord) -> VideoView | None:
    """The job's video, once it completed with one (None before, and without a link)."""
    if job.status != JobStatus.COMPLETED or not job.video_url:
        return None
    if job.output_kept:
        removed = job.output_removed
        if removed in ("deleted", "expired"):
            state: VideoState = "deleted" if removed == "deleted" else "expired"
            return VideoView(
                url=None, upstream_url=job.video_url, expires_at=None, kept=False, state=state
            )
        return VideoView(
            url=job.output_url,
            upstream_url=job.video_url,
            expires_at=iso(job.output_expires_at),
            kept=True,
            state="kept",
            sha256=job.output_sha256,
            bytes=job.output_bytes,
            content_type=job.output_content_type,
            width=job.output_width,
            height=job.output_height,
            duration_s=job.output_duration_s,
            poster_url=job.output_poster_url,
        )
    if job.output_kept is False:
        reason, message = job.output_not_kept_reason, job.output_note
    elif not job.keep_output:
        reason, message = OPTED_OUT, "The job asked not to keep its video (keep_output: false)."
    else:
        reason, message = KEEPING_OFF, "Keeping videos is off on this gateway (GATEWAY_OUTPUTS)."
    expires = job.output_link_expires_at or link_expiry(job.video_url)
    return VideoView(
        url=job.video_url,
        upstream_url=job.video_url,
        expires_at=iso(expires),
        kept=False,
        state="not_kept",
        not_kept_reason=reason,
        not_kept_message=message,
    )


def announced_video_url(job: JobRecord, video: VideoView | None) -> str | None:
    """``video_url`` as announced: the kept link while kept, else the upstream's link."""
    if video is not None and video.url:
        return video.url
    return job.video_url
