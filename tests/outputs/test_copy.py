"""The copier against the mock's real video links, on the local store and on S3 (moto):
what is kept and how it is described, and every way keeping fails, classified."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.domain.outputs import KeepFailureReason
from gateway.outputs import Copier, KeepFailure, KeptVideo
from mock_upstream.files import SAMPLE_MP4
from tests.outputs.conftest import Backend, Mock, read_all, stored_keys

SAMPLE = SAMPLE_MP4.read_bytes()
R = KeepFailureReason


async def kept(copier: Copier, url: str, job_id: str = "job_1") -> KeptVideo:
    result = await copier.copy_video(url, job_id=job_id)
    assert isinstance(result, KeptVideo), result
    return result


async def failed(copier: Copier, url: str, job_id: str = "job_1") -> KeepFailure:
    result = await copier.copy_video(url, job_id=job_id)
    assert isinstance(result, KeepFailure), result
    return result


async def nothing_left(backend: Backend) -> None:
    """No object under videos/, no staging file: a failed copy leaves no trace."""
    assert ([], []) == (await stored_keys(backend.store), await backend.store.staged_files())


async def test_a_video_is_kept_whole_and_described(
    backend: Backend, copier: Copier, mock: Mock
) -> None:
    url = await mock.video_url()
    video = await kept(copier, url, "job_round_trip")
    expires = float(parse_qs(urlsplit(url).query)["Expires"][0])
    assert (
        "videos/job_round_trip/video.mp4",
        "video.mp4",
        "videos/job_round_trip/poster.jpg",
        hashlib.sha256(SAMPLE).hexdigest(),
        len(SAMPLE),
        "video/mp4",
        "mp4",
        (160, 90, 2.0),
        url,
        expires,
        None,
    ) == (
        video.key,
        video.name,
        video.poster_key,
        video.sha256,
        video.bytes,
        video.content_type,
        video.container,
        (video.width, video.height, video.duration_s),
        video.upstream_url,
        video.link_expires_at,
        video.probe_note,
    )
    assert SAMPLE == await read_all(backend.store, video.key)
    assert video.poster_key is not None
    poster = await read_all(backend.store, video.poster_key)
    assert (b"\xff\xd8\xff", b"\xff\xd9") == (poster[:3], poster[-2:])  # a whole JPEG
    assert [video.key, video.poster_key] == sorted(await stored_keys(backend.store))[::-1]
    assert [] == await backend.store.staged_files()


async def test_a_second_copy_of_the_same_job_overwrites_in_place(
    backend: Backend, copier: Copier, mock: Mock
) -> None:
    """A copy resumed after a crash writes the same keys again: still one video per job."""
    first = await kept(copier, await mock.video_url(), "job_again")
    second = await kept(copier, await mock.video_url(), "job_again")
    assert (first.key, first.sha256) == (second.key, second.sha256)
    assert 2 == len(await stored_keys(backend.store))


async def test_octet_stream_is_sniffed_as_mp4(backend: Backend, copier: Copier, mock: Mock) -> None:
    video = await kept(copier, await mock.video_url("video_octet_stream"))
    assert ("video/mp4", hashlib.sha256(SAMPLE).hexdigest()) == (video.content_type, video.sha256)


async def test_a_redirect_chain_is_followed(backend: Backend, copier: Copier, mock: Mock) -> None:
    video = await kept(copier, await mock.video_url("video_redirect_3"))
    assert hashlib.sha256(SAMPLE).hexdigest() == video.sha256


async def test_an_undecodable_video_is_kept_without_a_poster(
    backend: Backend, copier: Copier, mock: Mock
) -> None:
    """An MP4 header before zeros: sniffed as a video, kept, but FFmpeg finds nothing in it."""
    video = await kept(copier, await mock.video_url("video_huge_0.01"))
    assert (None, None, None, None) == (
        video.poster_key,
        video.width,
        video.height,
        video.duration_s,
    )
    assert video.probe_note
    assert [video.key] == await stored_keys(backend.store)


async def test_not_a_video_is_refused(backend: Backend, copier: Copier, mock: Mock) -> None:
    failure = await failed(copier, await mock.video_url("video_not_video"))
    assert (R.NOT_VIDEO, False) == (failure.reason, failure.transient)
    assert "3c 21 44 4f" in failure.message  # "<!DO": what it began with
    await nothing_left(backend)


async def test_a_dead_link_is_permanent(backend: Backend, copier: Copier, mock: Mock) -> None:
    url = await mock.video_url()
    mock.clock.advance(3600)  # past the link's Expires: the mock answers 403
    failure = await failed(copier, url)
    assert (R.DEAD_LINK, False, 403) == (failure.reason, failure.transient, failure.http_status)
    assert "Signature" not in failure.message  # a link's query is a secret until it expires
    assert failure.link_expires_at is not None
    await nothing_left(backend)


async def test_a_truncated_download_is_transient(
    backend: Backend, copier: Copier, mock: Mock
) -> None:
    failure = await failed(copier, await mock.video_url("video_truncated"))
    assert (R.TRUNCATED, True) == (failure.reason, failure.transient)
    await nothing_left(backend)


async def test_a_failing_source_is_transient_then_kept(
    backend: Backend, copier: Copier, mock: Mock
) -> None:
    url = await mock.video_url("video_500_1")
    failure = await failed(copier, url)
    assert (R.SOURCE_UNAVAILABLE, True, 500) == (
        failure.reason,
        failure.transient,
        failure.http_status,
    )
    await kept(copier, url)


@pytest.mark.parametrize("scenario", ["video_huge_1", "video_huge_chunked_1"])
async def test_too_big_with_and_without_a_length(
    backend: Backend, mock: Mock, scenario: str
) -> None:
    copier = Copier.from_settings(
        backend.settings.with_(output_max_bytes=256 * 1024), backend.store
    )
    try:
        failure = await failed(copier, await mock.video_url(scenario))
    finally:
        await copier.aclose()
    assert (R.TOO_BIG, False) == (failure.reason, failure.transient)
    await nothing_left(backend)


async def test_more_redirects_than_the_limit(backend: Backend, mock: Mock) -> None:
    copier = Copier.from_settings(backend.settings.with_(output_max_redirects=2), backend.store)
    try:
        failure = await failed(copier, await mock.video_url("video_redirect_3"))
    finally:
        await copier.aclose()
    assert (R.TOO_MANY_REDIRECTS, False) == (failure.reason, failure.transient)


async def test_a_stalled_download_times_out(backend: Backend, mock: Mock) -> None:
    """The source goes silent longer than the read timeout (8 pieces, 0.25 s apart)."""
    settings = backend.settings.with_(output_read_timeout_s=0.05)
    copier = Copier.from_settings(settings, backend.store)
    try:
        failure = await failed(copier, await mock.video_url("video_slow_2"))
    finally:
        await copier.aclose()
    assert (R.TIMEOUT, True) == (failure.reason, failure.transient)
    await nothing_left(backend)


async def test_the_whole_copy_is_bounded(backend: Backend, mock: Mock) -> None:
    copier = Copier.from_settings(backend.settings.with_(output_copy_timeout_s=0.2), backend.store)
    try:
        failure = await failed(copier, await mock.video_url("video_slow_2"))
    finally:
        await copier.aclose()
    assert (R.TIMEOUT, True) == (failure.reason, failure.transient)
    await nothing_left(backend)


async def test_a_slow_download_within_the_timeouts_is_kept(
    backend: Backend, copier: Copier, mock: Mock
) -> None:
    video = await kept(copier, await mock.video_url("video_slow_0.2"))
    assert hashlib.sha256(SAMPLE).hexdigest() == video.sha256


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)


async def test_a_copy_cancelled_mid_stream_leaves_nothing(
    backend: Backend, copier: Copier, mock: Mock
) -> None:
    """A lost lease or a shutdown cancels the copy half-way: no object under the final key
    (not even a partial one), and the staging file is gone."""
    task = asyncio.create_task(copier.copy_video(await mock.video_url("video_huge_64"), job_id="j"))

    async def some_bytes_staged() -> bool:
        staged = await backend.store.staged_files()
        return bool(staged) and staged[0][0].stat().st_size > 1024 * 1024

    await wait_for(some_bytes_staged)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await nothing_left(backend)
    assert 0 == copier.slots.in_use


async def test_copies_hold_slots(backend: Backend, mock: Mock) -> None:
    """At most ``concurrency`` copies run at once; the others wait for a slot."""
    copier = Copier.from_settings(backend.settings.with_(output_copy_concurrency=1), backend.store)
    try:
        first = asyncio.create_task(
            copier.copy_video(await mock.video_url("video_slow_0.5"), job_id="a")
        )
        await wait_for(_async(lambda: copier.slots.in_use == 1))
        second = asyncio.create_task(copier.copy_video(await mock.video_url(), job_id="b"))
        for _ in range(5):
            await asyncio.sleep(0)  # let the second copy run up to the slot it waits for
        assert (0, False) == (copier.slots.free(), second.done())
        results = await asyncio.gather(first, second)
    finally:
        await copier.aclose()
    assert all(isinstance(result, KeptVideo) for result in results)
    assert 1 == copier.slots.free()


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return bool(check())

    return condition


async def test_a_job_id_that_cannot_name_an_object_is_refused_before_any_download(
    backend: Backend, copier: Copier
) -> None:
    with pytest.raises(ValueError, match="cannot name an object"):
        await copier.copy_video("http://127.0.0.1:9/v.mp4", job_id="../../etc")
    await nothing_left(backend)
