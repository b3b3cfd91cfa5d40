"""What a kept video is (width, height, duration) and a poster frame (JPEG), read with PyAV
(FFmpeg ships in its wheels) from the staged local file — an MP4 whose index (``moov``) is at
the end needs the whole file, which a stream cannot give.

Blocking (FFmpeg's work): the copier runs :func:`probe_video` in its worker threads. Bounded:
at most ``max_frames`` frames are decoded looking for the poster. A file FFmpeg cannot read is
not an error here: the answer then has no dimensions and no poster, and says why in ``note``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import msgspec

POSTER_MAX_WIDTH = 640
POSTER_AT_S = 1.0  # a frame a second in (or at a tenth of a shorter video): past fade-ins
MAX_FRAMES = 300


class Probe(msgspec.Struct, frozen=True):
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    poster_jpeg: bytes | None = None
    note: str | None = None  # why something is missing


def probe_video(
    path: Path, *, poster_max_width: int = POSTER_MAX_WIDTH, max_frames: int = MAX_FRAMES
) -> Probe:
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        return Probe(note=f"cannot be decoded: {_first_line(exc)}")
    with container:
        if not container.streams.video:
            return Probe(duration_s=_container_duration(container), note="no video stream")
        stream = container.streams.video[0]
        width = stream.codec_context.width or None
        height = stream.codec_context.height or None
        duration = _container_duration(container) or _stream_duration(stream)
        target = POSTER_AT_S if duration is None else min(POSTER_AT_S, duration / 10.0)
        try:
            frame = _frame_at(container, stream, target, max_frames)
        except (av.FFmpegError, OSError, ValueError) as exc:
            return Probe(width, height, duration, note=f"no frame decoded: {_first_line(exc)}")
        if frame is None:
            return Probe(width, height, duration, note="no frame decoded")
        try:
            poster = _jpeg(frame, poster_max_width)
        except (av.FFmpegError, OSError, ValueError) as exc:
            return Probe(width, height, duration, note=f"no poster: {_first_line(exc)}")
        return Probe(width or frame.width, height or frame.height, duration, poster)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _container_duration(container: av.container.InputContainer) -> float | None:
    if container.duration is None or container.duration <= 0:
        return None
    return round(container.duration / av.time_base, 3)


def _stream_duration(stream: av.VideoStream) -> float | None:
    if stream.duration is None or stream.time_base is None or stream.duration <= 0:
        return None
    return round(float(stream.duration * stream.time_base), 3)


def _frame_at(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    target_s: float,
    max_frames: int,
) -> av.VideoFrame | None:
    """The first frame at or after ``target_s`` (or the last decoded within the bound)."""
    chosen: av.VideoFrame | None = None
    for count, frame in enumerate(container.decode(stream), start=1):
        chosen = frame
        if frame.time is None or frame.time >= target_s or count >= max_frames:
            break
    return chosen


def _jpeg(frame: av.VideoFrame, max_width: int) -> bytes:
    width = min(frame.width, max_width)
    height = max(2, round(frame.height * width / frame.width / 2) * 2)
    width -= width % 2
    encoder = av.CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width = width
    encoder.height = height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    packets = [*encoder.encode(picture), *encoder.encode(None)]
    return b"".join(bytes(packet) for packet in packets)
