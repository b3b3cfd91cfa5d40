"""Keeping a finished video: why a copy failed, whether trying again can help, when the
upstream's own link dies, where a kept video lives, and when to try again.

Pure: statuses, URLs, times and a random number go in; decisions come out.

Failure reasons (:class:`KeepFailureReason`), and whether each is *transient* (the copy work item
retries it with backoff, until the upstream link's own expiry or a bound) or *permanent* (the
completion event goes out at once with ``kept: false`` and the reason):

============================  =========  ==================================================
reason                        transient  when
============================  =========  ==================================================
``dead_link``                 no         the source answered 401, 403, 404 or 410
``source_refused``            no         another 4xx (400, 405, 416, 451, …) or a 3xx
                                         without a usable ``Location``
``too_big``                   no         more than the byte limit, announced or counted
``not_video``                 no         the first bytes are no video container we know
``blocked_source``            no         the SSRF guard refused an address (first URL or a
                                         redirect), or a URL we will not fetch (scheme,
                                         credentials)
``too_many_redirects``        no         more redirects than the limit
``source_unavailable``        yes        5xx, 408, 425 or 429 (``Retry-After`` honoured)
``network``                   yes        no connection, a reset, a malformed answer, a name
                                         that does not resolve (now)
``timeout``                   yes        the source stalled past the read timeout, or the
                                         attempt ran past its bound
``truncated``                 yes        the body ended before its ``Content-Length``
``store_unavailable``         yes        the object store failed (unreachable, refused)
``disk_full``                 yes        the staging disk (or a local store) is full
============================  =========  ==================================================
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import msgspec

from gateway.domain.containers import Container
from gateway.domain.retry import jittered


class KeepFailureReason(enum.StrEnum):
    DEAD_LINK = "dead_link"
    SOURCE_REFUSED = "source_refused"
    TOO_BIG = "too_big"
    NOT_VIDEO = "not_video"
    BLOCKED_SOURCE = "blocked_source"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    SOURCE_UNAVAILABLE = "source_unavailable"
    NETWORK = "network"
    TIMEOUT = "timeout"
    TRUNCATED = "truncated"
    STORE_UNAVAILABLE = "store_unavailable"
    DISK_FULL = "disk_full"

    @property
    def transient(self) -> bool:
        return self in _TRANSIENT


_TRANSIENT = frozenset(
    {
        KeepFailureReason.SOURCE_UNAVAILABLE,
        KeepFailureReason.NETWORK,
        KeepFailureReason.TIMEOUT,
        KeepFailureReason.TRUNCATED,
        KeepFailureReason.STORE_UNAVAILABLE,
        KeepFailureReason.DISK_FULL,
    }
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEAD_STATUSES = frozenset({401, 403, 404, 410})
_BUSY_STATUSES = frozenset({408, 425, 429})


def classify_source_status(status: int) -> Literal["ok", "redirect"] | KeepFailureReason:
    """What a source's HTTP status means for the copy (before any body is read)."""
    if 200 <= status < 300:
        return "ok"
    if status in REDIRECT_STATUSES:
        return "redirect"
    if status in _DEAD_STATUSES:
        return KeepFailureReason.DEAD_LINK
    if status >= 500 or status in _BUSY_STATUSES:
        return KeepFailureReason.SOURCE_UNAVAILABLE
    return KeepFailureReason.SOURCE_REFUSED


_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")


def link_expiry(url: str) -> float | None:
    """When a signed link dies (Unix seconds), read from its own query string, or None.

    Understood: ``Expires=<unix seconds>`` (CloudFront, S3 v2 presigned URLs, many CDNs; any
    case), ``X-Amz-Date`` + ``X-Amz-Expires`` (S3 SigV4), ``X-Goog-Date`` + ``X-Goog-Expires``
    (Google Cloud Storage V4), ``se=<ISO 8601>`` (Azure SAS). A value that does not parse is
    ignored (None): the copy is then bounded by its own limit instead.
    """
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    params = {key.lower(): value for key, value in parse_qsl(query, keep_blank_values=True)}
    expires = params.get("expires")
    if expires is not None and expires.isdigit():
        return float(expires)
    for prefix in ("x-amz-", "x-goog-"):
        date, seconds = params.get(prefix + "date"), params.get(prefix + "expires")
        if date and seconds and seconds.isdigit() and _AMZ_DATE.match(date):
            signed = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return signed.timestamp() + float(seconds)
    se = params.get("se")
    if se:
        try:
            when = datetime.fromisoformat(se.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is not None:
            return when.timestamp()
    return None


_KEY_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
VIDEO_PREFIX = "videos/"


class OutputKeys(msgspec.Struct, frozen=True):
    """Where a job's kept video and poster live in the object store (keys under the store's
    own prefix), and the names the signed links use."""

    video: str
    poster: str
    video_name: str  # "video.mp4", "video.webm", …
    poster_name: str = "poster.jpg"


def output_keys(job_id: str, container: Container) -> OutputKeys:
    """``videos/<job id>/video.<ext>`` and ``videos/<job id>/poster.jpg``."""
    if not _KEY_SAFE.match(job_id):
        raise ValueError(f"job id {job_id!r} cannot name an object")
    name = f"video.{container.extension}"
    return OutputKeys(
        video=f"{VIDEO_PREFIX}{job_id}/{name}",
        poster=f"{VIDEO_PREFIX}{job_id}/poster.jpg",
        video_name=name,
    )


class CopyPolicy(msgspec.Struct, frozen=True):
    """Retries of a transient failure: exponential backoff from ``base_s`` up to ``cap_s``
    (±``jitter``), never past the upstream link's own expiry, and never more than
    ``give_up_after_s`` after the first attempt (the completion event waits for the copy)."""

    base_s: float = 10.0
    cap_s: float = 600.0
    jitter: float = 0.2
    give_up_after_s: float = 2 * 3600.0
    max_retry_after_s: float = 3600.0


class CopyDecision(msgspec.Struct, frozen=True):
    kind: Literal["retry", "give_up"]
    next_at: float | None
    reason: str


def decide_copy_retry(
    policy: CopyPolicy,
    reason: KeepFailureReason,
    *,
    attempt: int,
    first_attempt_at: float,
    now: float,
    link_expires_at: float | None,
    retry_after_s: float | None,
    rng: float,
) -> CopyDecision:
    """After the ``attempt``-th (1-based) failed copy: try again at ``next_at``, or give up
    (the completion event then goes out with ``kept: false`` and ``reason``)."""
    if not reason.transient:
        return CopyDecision("give_up", None, f"{reason}: retrying cannot help")
    delay = jittered(min(policy.cap_s, policy.base_s * 2.0 ** (attempt - 1)), policy.jitter, rng)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, policy.max_retry_after_s))
    next_at = now + delay
    if link_expires_at is not None and next_at >= link_expires_at:
        return CopyDecision("give_up", None, f"{reason}; the source link expires before a retry")
    if next_at > first_attempt_at + policy.give_up_after_s:
        return CopyDecision("give_up", None, f"{reason}; still failing after {attempt} attempts")
    return CopyDecision("retry", next_at, f"{reason}; attempt {attempt + 1} in {delay:.0f} s")
