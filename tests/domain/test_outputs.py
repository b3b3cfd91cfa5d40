"""Keeping outputs, the pure parts: how a source's status is read, when a signed upstream link
dies, where a kept video lives, and when a failed copy is tried again."""

from __future__ import annotations

import pytest

from gateway.domain.containers import Container
from gateway.domain.outputs import (
    CopyPolicy,
    KeepFailureReason,
    classify_source_status,
    decide_copy_retry,
    link_expiry,
    output_keys,
)

R = KeepFailureReason


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "ok"),
        (203, "ok"),
        (301, "redirect"),
        (302, "redirect"),
        (307, "redirect"),
        (308, "redirect"),
        (304, R.SOURCE_REFUSED),
        (300, R.SOURCE_REFUSED),
        (401, R.DEAD_LINK),
        (403, R.DEAD_LINK),
        (404, R.DEAD_LINK),
        (410, R.DEAD_LINK),
        (400, R.SOURCE_REFUSED),
        (416, R.SOURCE_REFUSED),
        (408, R.SOURCE_UNAVAILABLE),
        (429, R.SOURCE_UNAVAILABLE),
        (500, R.SOURCE_UNAVAILABLE),
        (503, R.SOURCE_UNAVAILABLE),
    ],
)
def test_source_statuses(status: int, expected: object) -> None:
    assert expected == classify_source_status(status)


def test_which_reasons_are_transient() -> None:
    transient = {reason.value for reason in R if reason.transient}
    assert {
        "source_unavailable",
        "network",
        "timeout",
        "truncated",
        "store_unavailable",
        "disk_full",
    } == transient


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://cdn.example.com/v.mp4?Expires=1700000000&Signature=x&Key-Pair-Id=K", 1.7e9),
        ("https://cdn.example.com/v.mp4?expires=1700000000", 1.7e9),
        (
            "https://b.s3.amazonaws.com/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Date=20231114T221320Z&X-Amz-Expires=3600&X-Amz-Signature=abc",
            1700000000.0 + 3600,
        ),
        (
            "https://storage.googleapis.com/b/v.mp4?X-Goog-Date=20231114T221320Z"
            "&X-Goog-Expires=600",
            1700000000.0 + 600,
        ),
        (
            "https://acct.blob.core.windows.net/c/v.mp4?sv=2022&se=2023-11-14T22:13:20Z&sig=x",
            1700000000.0,
        ),
        ("https://cdn.example.com/v.mp4", None),
        ("https://cdn.example.com/v.mp4?Expires=soon", None),
        ("https://cdn.example.com/v.mp4?X-Amz-Date=bad&X-Amz-Expires=60", None),
        ("https://cdn.example.com/v.mp4?se=not-a-date", None),
        ("https://cdn.example.com/v.mp4?se=2023-11-14T22:13:20", None),  # no zone
        ("http://[::1", None),  # not a URL
    ],
)
def test_link_expiry(url: str, expected: float | None) -> None:
    assert expected == link_expiry(url)


def test_output_keys() -> None:
    mp4, webm = output_keys("job_1", Container.MP4), output_keys("job_1", Container.WEBM)
    assert (
        "videos/job_1/video.mp4",
        "videos/job_1/poster.jpg",
        "video.mp4",
        "videos/job_1/video.webm",
    ) == (mp4.video, mp4.poster, mp4.video_name, webm.video)
    with pytest.raises(ValueError, match="cannot name an object"):
        output_keys("../etc", Container.MP4)


POLICY = CopyPolicy(base_s=10.0, cap_s=600.0, jitter=0.0, give_up_after_s=7200.0)


def decide(reason: R, attempt: int, now: float, **kwargs: float | None) -> tuple[str, float | None]:
    decision = decide_copy_retry(
        POLICY,
        reason,
        attempt=attempt,
        first_attempt_at=kwargs.pop("first", 0.0) or 0.0,
        now=now,
        link_expires_at=kwargs.pop("link_expires_at", None),
        retry_after_s=kwargs.pop("retry_after_s", None),
        rng=0.5,
    )
    return decision.kind, decision.next_at


def test_permanent_failures_give_up_at_once() -> None:
    assert [("give_up", None)] * 4 == [
        decide(reason, 1, 0.0) for reason in (R.DEAD_LINK, R.TOO_BIG, R.NOT_VIDEO, R.BLOCKED_SOURCE)
    ]


def test_transient_failures_back_off_exponentially_up_to_the_cap() -> None:
    assert [("retry", 10.0), ("retry", 20.0), ("retry", 40.0), ("retry", 600.0)] == [
        decide(R.NETWORK, 1, 0.0),
        decide(R.NETWORK, 2, 0.0),
        decide(R.DISK_FULL, 3, 0.0),
        decide(R.STORE_UNAVAILABLE, 12, 0.0),
    ]


def test_retry_after_is_honoured() -> None:
    assert ("retry", 120.0) == decide(R.SOURCE_UNAVAILABLE, 1, 0.0, retry_after_s=120.0)


def test_retries_stop_at_the_links_own_expiry() -> None:
    """A retry the link would not survive is not made: the event goes out with kept=false."""
    assert [("retry", 1010.0), ("give_up", None)] == [
        decide(R.NETWORK, 1, 1000.0, link_expires_at=1011.0),
        decide(R.NETWORK, 1, 1000.0, link_expires_at=1010.0),
    ]


def test_retries_stop_at_the_bound() -> None:
    assert [("retry", 7200.0), ("give_up", None)] == [
        decide(R.NETWORK, 1, 7190.0),
        decide(R.NETWORK, 1, 7191.0),
    ]
