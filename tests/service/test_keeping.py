"""The ``keeping`` step (issue 26): a completed generation's video is copied before the job
completes; the completion event carries the kept video, or ``kept: false`` and why — never
withheld; a copy is exempt from the job's deadline; a caller deletes a kept video, the
retention sweep expires it, and its signed link then answers 410. On both databases, with the
mock upstream's video links on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.domain.jobs import JobStatus
from gateway.domain.upstream import Generation
from gateway.errors import OutputGone, OutputLinkInvalid
from gateway.service.kept_videos import DownloadRequest, KeptVideos
from gateway.service.video_view import video_view
from gateway.settings import Settings
from gateway.testing.harness import START, Harness, harness_settings, open_harness
from mock_upstream.app import create_app
from mock_upstream.config import MockConfig
from mock_upstream.files import SAMPLE_MP4
from mock_upstream.testing import FakeClock, MockServer
from tests.backends import open_empty_store
from tests.outputs.conftest import Mock

RETENTION_S = 3600.0


@pytest.fixture(scope="module")
def mock() -> Iterator[Mock]:
    clock = FakeClock(START)  # the links' Expires= on the harness's time line
    with MockServer(create_app(MockConfig.fast(clock=clock, video_ttl_s=60.0))) as server:
        yield Mock(server, clock)


def keep_settings(database_url: str, tmp_path: Path, **changes: Any) -> Settings:
    return harness_settings(
        database_url,
        outputs="keep",
        output_store=str(tmp_path / "outputs"),
        output_store_shared=True,  # one directory, whichever database
        output_source_allowlist=("127.0.0.1/32",),
        output_retention_s=RETENTION_S,
        public_url="https://gw.test",
        **changes,
    )


@pytest.fixture
async def harness(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    store = await open_empty_store(database_url)
    try:
        async with open_harness(keep_settings(database_url, tmp_path), store) as opened:
            yield opened
    finally:
        await store.close()


async def complete_with(harness: Harness, url: str, **fields: Any) -> str:
    """Accept a job and let the upstream report it completed with ``url``; its id."""
    harness.upstream.poll_script.append(
        Generation(id="gen_scripted_000000001", status="completed", video_url=url)
    )
    job = await harness.accept(**fields)
    await harness.run()  # submitted
    await harness.run(advance_s=15)  # polled: completed, then the copy
    return job.id


def completion(harness: Harness) -> dict[str, Any]:
    """The one completion event sent."""
    bodies = [msgspec.json.decode(body) for _, body, _ in harness.sender.sent]
    completed = [b for b in bodies if b["type"] == "video.generation.completed"]
    assert 1 == len(completed), bodies
    data: dict[str, Any] = completed[0]["data"]
    return data


async def test_the_completion_event_carries_the_kept_video(harness: Harness, mock: Mock) -> None:
    """Kept before the event: its link is the gateway's, signed, with the file's facts."""
    url = await mock.video_url()
    job_id = await complete_with(harness, url)

    job = await harness.job(job_id)
    data = completion(harness)
    video = data["video"]
    assert JobStatus.COMPLETED == job.status
    assert (True, "kept", url) == (video["kept"], video["state"], video["upstream_url"])
    assert video["url"] == data["video_url"] == job.output_url
    assert video["url"].startswith(f"https://gw.test/v1/outputs/{job_id}/video.mp4?expires=")
    assert SAMPLE_MP4.stat().st_size == video["bytes"]
    assert video["width"] > 0
    assert video["height"] > 0
    assert video["duration_s"] > 0
    assert video["sha256"] == job.output_sha256
    kinds = [row.kind for row in await harness.store.history.list_for_job(job_id)]
    assert kinds.index("keeping") < kinds.index("completed")


async def test_a_transient_failure_waits_in_keeping_past_the_deadline(
    database_url: str, tmp_path: Path, mock: Mock
) -> None:
    """The first download answers 500: the job stays ``keeping`` with no event made due, past
    its own deadline, and completes kept on the retry."""
    store = await open_empty_store(database_url)
    settings = keep_settings(database_url, tmp_path, job_deadline_s=20.0)
    try:
        async with open_harness(settings, store) as harness:
            job_id = await complete_with(harness, await mock.video_url("video_500_1"))
            job = await harness.job(job_id)
            assert (JobStatus.KEEPING, 1) == (job.status, job.keep_attempts)
            assert [] == await harness.store.deliveries.for_job(job_id)

            await harness.run(advance_s=30)  # past the deadline (20 s) and the backoff
            job = await harness.job(job_id)
            assert (JobStatus.COMPLETED, True) == (job.status, job.output_kept)
            assert job.error is None
            assert completion(harness)["video"]["kept"] is True
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [(None, "dead_link"), ("video_not_video", "not_video"), ("video_huge_1", "too_big")],
)
async def test_a_video_that_cannot_be_kept_still_completes_the_job(
    database_url: str, tmp_path: Path, mock: Mock, scenario: str | None, reason: str
) -> None:
    """A dead link (403), an HTML page and a file over the limit: the event goes out at once
    with ``kept: false``, the reason, and the upstream's link as ``video_url``."""
    store = await open_empty_store(database_url)
    settings = keep_settings(database_url, tmp_path, output_max_bytes=512 * 1024)
    try:
        async with open_harness(settings, store) as harness:
            url = await mock.video_url(scenario)
            if scenario is None:
                mock.clock.advance(61)  # past the link's Expires=: the mock answers 403
            job_id = await complete_with(harness, url)
            data = completion(harness)
            video = data["video"]
            assert (False, "not_kept", reason) == (
                video["kept"],
                video["state"],
                video["not_kept_reason"],
            )
            assert url == data["video_url"] == video["url"]
            assert video["not_kept_message"]
            assert JobStatus.COMPLETED == (await harness.job(job_id)).status
    finally:
        await store.close()


async def test_a_job_that_opts_out_is_not_kept(harness: Harness, mock: Mock) -> None:
    url = await mock.video_url()
    job_id = await complete_with(harness, url, keep_output=False)
    video = completion(harness)["video"]
    assert (False, "opted_out", url) == (video["kept"], video["not_kept_reason"], video["url"])
    assert (await harness.job(job_id)).keep_attempts == 0


async def test_delete_then_the_link_answers_410(harness: Harness, mock: Mock) -> None:
    """The caller deletes its kept video: the objects go, the view says ``deleted``, the link
    answers 410 (a tampered one 403 before that)."""
    job_id = await complete_with(harness, await mock.video_url())
    videos = KeptVideos(harness.runtime)
    job = await harness.job(job_id)
    assert job.output_url is not None
    asked = _asked(job.output_url)
    answer = await videos.download(asked)
    assert (200, str(SAMPLE_MP4.stat().st_size)) == (
        answer.status,
        answer.headers["content-length"],
    )
    assert answer.body is not None
    await answer.body.aclose()  # type: ignore[attr-defined]
    with pytest.raises(OutputLinkInvalid):
        await videos.download(_asked(job.output_url.replace("expires=", "expires=1")))

    deleted = await videos.delete(job)
    outputs = harness.runtime.outputs
    assert outputs is not None
    assert "deleted" == deleted.output_removed
    assert await outputs.store.head(job.output_key or "") is None
    with pytest.raises(OutputGone):
        await videos.download(asked)
    again = await videos.delete(deleted)  # deleting twice changes nothing
    assert deleted.output_removed_at == again.output_removed_at


async def test_the_retention_sweep_expires_kept_videos(harness: Harness, mock: Mock) -> None:
    job_id = await complete_with(harness, await mock.video_url())
    videos = KeptVideos(harness.runtime)
    assert 0 == await videos.sweep()
    harness.clock.advance(RETENTION_S + 1)
    assert 1 == await videos.sweep()
    job = await harness.job(job_id)
    outputs = harness.runtime.outputs
    assert outputs is not None
    assert "expired" == job.output_removed
    assert await outputs.store.head(job.output_key or "") is None
    view = video_view(job)
    assert view is not None
    assert ("expired", None) == (view.state, view.url)
    assert 0 == await videos.sweep()


def _asked(url: str) -> DownloadRequest:
    path, _, query = url.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    *_, job_id, name = path.split("/")
    return DownloadRequest(job_id, name, expires=params.get("expires"), sig=params.get("sig"))
