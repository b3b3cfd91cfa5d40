"""Containers beyond the mock's sample, made here with PyAV: a WebM (VP9) and an MP4 whose
index (moov) comes after the media (FFmpeg's default), which only a local file can probe."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import av
import pytest

from gateway.outputs import Copier, KeptVideo, open_output_store
from tests.delivery.receiver import Receiver, answer
from tests.outputs.conftest import local_settings, read_all


def make_video(container: str, codec: str, *, frames: int = 24, fps: int = 12) -> bytes:
    """``frames`` frames of 64x48 moving gradient, ``frames / fps`` seconds long."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for n in range(frames):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes((n * 7 + i) % 256 for i in range(plane.buffer_size)))
            frame.pts = n
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return out.getvalue()


@pytest.fixture
async def copier(tmp_path: Path) -> AsyncIterator[Copier]:
    settings = local_settings(tmp_path / "outputs")
    copier = Copier.from_settings(settings, open_output_store(settings))
    yield copier
    await copier.aclose()


async def keep(copier: Copier, body: bytes, content_type: str) -> KeptVideo:
    source = await Receiver(answer(200, body, [("content-type", content_type)])).start()
    try:
        result = await copier.copy_video(source.url(path="/v"), job_id="job_made")
    finally:
        await source.close()
    assert isinstance(result, KeptVideo), result
    return result


async def test_a_webm_is_kept_as_webm(copier: Copier) -> None:
    body = make_video("webm", "libvpx-vp9")
    video = await keep(copier, body, "application/octet-stream")
    assert (
        "videos/job_made/video.webm",
        "video.webm",
        "video/webm",
        "webm",
        (64, 48, 2.0),
    ) == (
        video.key,
        video.name,
        video.content_type,
        video.container,
        (video.width, video.height, video.duration_s),
    )
    assert video.poster_key is not None
    assert body == await read_all(copier.store, video.key)


async def test_an_mp4_with_its_index_at_the_end_is_probed(copier: Copier) -> None:
    body = make_video("mp4", "mpeg4")
    assert body.index(b"moov") > body.index(b"mdat")  # the index after the media
    video = await keep(copier, body, "video/mp4")
    assert ("video/mp4", 64, 48, 2.0) == (
        video.content_type,
        video.width,
        video.height,
        video.duration_s,
    )
    assert video.poster_key is not None
    poster = await read_all(copier.store, video.poster_key)
    assert b"\xff\xd8\xff" == poster[:3]
