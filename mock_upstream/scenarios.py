"""Scenarios: how one job misbehaves. Chosen per request with an ``X-Mock-Scenario`` header on
the POST or a ``[mock:NAME]`` tag in the prompt; the choice is remembered for the job's polls.

Names (N is a number):

- ``ok``: the normal lifecycle, queued → generating → completed.
- ``submit_<status>`` (400, 401, 403, 404, 429, 500, 502, 503, 504): the POST fails with the
  upstream's verbatim message in the ``{message, path, requestId, statusCode, timestamp}`` shape;
  ``submit_<status>_problem``: the same in the ``application/problem+json`` shape.
- ``submit_429_retry_after_N``: a 429 with ``Retry-After: N`` (the real API sends none).
- ``job_error``: the job ends in ``error`` with ``{name, message}``; ``job_error_detail``: with
  ``{detail: [{loc, msg, type}]}``.
- ``stuck_generating``: the job never leaves ``generating``.
- ``other_status_words``: the lifecycle in words some models' examples show, outside the
  documented enum: ``waiting → active → succeeded``; ``job_failed_other_words``: ends ``failed``.
- ``poll_fail_N`` / ``poll_500_N`` / ``poll_502_N`` / ``poll_503_N``: the first N polls fail with
  that status (500 for ``fail``), then the lifecycle continues.
- ``poll_429_N``: the first N polls answer 429 without ``Retry-After``;
  ``poll_429_retry_after_N``: one 429 with ``Retry-After: N``.
- ``poll_404``: the upstream forgets the job: every poll answers 404.
- ``poll_reset_N``, ``poll_invalid_json_N``, ``poll_truncated_json_N``, ``poll_hang_N``:
  the first N polls fail at the transport level (server mode only).
- ``slow_N``: every answer about this job takes N seconds (fractions allowed).
- ``reset``, ``hang``, ``truncated_json``, ``invalid_json``: the POST itself fails at the
  transport level. ``reset`` and ``truncated_json`` create the job first (the generation
  exists, the caller cannot know), like a connection lost after the upstream accepted.

How the finished video's link behaves (the job's lifecycle is the normal one):

- ``video_slow_N``: the file trickles out in 8 pieces over N seconds.
- ``video_truncated``: ``Content-Length`` promises the whole file, half is sent, the connection
  closes.
- ``video_redirect`` / ``video_redirect_N``: the link answers 302, N times in a chain (1 by
  default), before the file.
- ``video_octet_stream``: the file as ``application/octet-stream`` (what CDNs often send).
- ``video_not_video``: an HTML error page served as ``video/mp4``.
- ``video_huge_N`` / ``video_huge_chunked_N``: N MiB (fractions allowed), generated on the fly
  after a real MP4 header, with a ``Content-Length`` / without one (chunked).
- ``video_500_N``: the first N downloads answer 500, then the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUBMIT_STATUSES = (400, 401, 403, 404, 429, 500, 502, 503, 504)
TRANSPORT_FAULTS = ("reset", "hang", "truncated_json", "invalid_json")
_TAG = re.compile(r"\[mock:([a-z0-9_.]+)\]")


class UnknownScenario(ValueError):
    pass


@dataclass(frozen=True)
class Scenario:
    name: str = "ok"
    submit_status: int | None = None
    submit_problem_shape: bool = False
    submit_fault: str | None = None  # one of TRANSPORT_FAULTS
    retry_after_s: float | None = None
    job_error: str | None = None  # "name_message" or "detail"
    stuck: bool = False
    poll_failures: int = 0
    poll_status: int | None = None  # status of the failing polls
    poll_fault: str | None = None  # transport fault of the failing polls
    forget: bool = False
    latency_s: float = 0.0
    other_status_words: bool = False  # waiting → active → succeeded/failed
    video: str | None = None  # how the video link misbehaves (VIDEO_FAULTS)
    video_param: float = 0.0  # seconds, hops, MiB or failures, by fault


VIDEO_FAULTS = ("slow", "truncated", "redirect", "octet_stream", "not_video", "huge",
                "huge_chunked", "500")  # fmt: skip
_NUMBER = r"(\d+(?:\.\d+)?)"


def parse(name: str) -> Scenario:
    n = name.strip().lower()
    if n in ("", "ok"):
        return Scenario()
    if n in TRANSPORT_FAULTS:
        return Scenario(name=n, submit_fault=n)
    if n == "job_error":
        return Scenario(name=n, job_error="name_message")
    if n == "job_error_detail":
        return Scenario(name=n, job_error="detail")
    if n == "other_status_words":
        return Scenario(name=n, other_status_words=True)
    if n == "job_failed_other_words":
        return Scenario(name=n, other_status_words=True, job_error="name_message")
    if n == "stuck_generating":
        return Scenario(name=n, stuck=True)
    if n == "poll_404":
        return Scenario(name=n, forget=True)
    if m := re.fullmatch(r"submit_429_retry_after_(\d+(?:\.\d+)?)", n):
        return Scenario(name=n, submit_status=429, retry_after_s=float(m.group(1)))
    if m := re.fullmatch(r"submit_(\d{3})(_problem)?", n):
        status = int(m.group(1))
        if status not in SUBMIT_STATUSES:
            raise UnknownScenario(f"no submit scenario for status {status}")
        return Scenario(name=n, submit_status=status, submit_problem_shape=bool(m.group(2)))
    if m := re.fullmatch(r"poll_429_retry_after_(\d+(?:\.\d+)?)", n):
        return Scenario(name=n, poll_failures=1, poll_status=429, retry_after_s=float(m.group(1)))
    if m := re.fullmatch(r"poll_(fail|500|502|503|429)_(\d+)", n):
        status = 500 if m.group(1) == "fail" else int(m.group(1))
        return Scenario(name=n, poll_failures=int(m.group(2)), poll_status=status)
    if m := re.fullmatch(r"poll_(reset|invalid_json|truncated_json|hang)_(\d+)", n):
        return Scenario(name=n, poll_failures=int(m.group(2)), poll_fault=m.group(1))
    if m := re.fullmatch(r"slow_(\d+(?:\.\d+)?)", n):
        return Scenario(name=n, latency_s=float(m.group(1)))
    if n in ("video_truncated", "video_octet_stream", "video_not_video", "video_redirect"):
        fault = n.removeprefix("video_")
        return Scenario(name=n, video=fault, video_param=1.0 if fault == "redirect" else 0.0)
    if m := re.fullmatch(rf"video_(slow|redirect|huge|huge_chunked|500)_{_NUMBER}", n):
        if m.group(1) in ("redirect", "500") and not m.group(2).isdigit():
            raise UnknownScenario(f"{m.group(1)} needs a whole number, in {name!r}")
        return Scenario(name=n, video=m.group(1), video_param=float(m.group(2)))
    raise UnknownScenario(f"unknown scenario {name!r}")


def from_request(header: str | None, prompt: object, default: str | None) -> Scenario:
    """The header wins, then a ``[mock:NAME]`` tag in the prompt, then the configured default."""
    if header:
        return parse(header)
    if isinstance(prompt, str) and (m := _TAG.search(prompt)):
        return parse(m.group(1))
    return parse(default or "ok")
