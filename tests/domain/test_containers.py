"""Sniffing the container from the first bytes: MP4 and QuickTime by their ftyp brand,
WebM and Matroska by the EBML DocType; images, sound and everything else refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.domain.containers import Container, sniff_container

SAMPLE = Path(__file__).parents[2] / "mock_upstream" / "assets" / "sample.mp4"


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00\x00\x00\x08free"


def ebml(doctype: bytes) -> bytes:
    children = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(children)]) + children + b"\x18\x53\x80\x67"


def test_the_mocks_sample_is_an_mp4() -> None:
    sniffed = sniff_container(SAMPLE.read_bytes()[:4096])
    assert sniffed is not None
    assert (Container.MP4, "video/mp4", "mp4") == (
        sniffed.container,
        sniffed.container.media_type,
        sniffed.container.extension,
    )


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (ftyp(b"isom", b"isom", b"avc1"), Container.MP4),
        (ftyp(b"mp42", b"mp41"), Container.MP4),
        (ftyp(b"qt  ", b"qt  "), Container.QUICKTIME),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat", Container.QUICKTIME),
        (ebml(b"webm"), Container.WEBM),
        (ebml(b"matroska"), Container.MATROSKA),
    ],
)
def test_video_containers_are_recognised(head: bytes, expected: Container) -> None:
    sniffed = sniff_container(head)
    assert sniffed is not None
    assert expected == sniffed.container


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # a JPEG
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"ID3\x04\x00\x00\x00\x00\x00\x00",  # an MP3
        ftyp(b"heic", b"mif1", b"heic"),  # a HEIF photo
        ftyp(b"avif", b"mif1"),
        ftyp(b"M4A ", b"isom"),  # sound only
        b"\x00\x00\x00\x04ftyp",  # a box too short to hold a brand
        ebml(b"other"),  # EBML, but not a video document
        b"\x1a\x45\xdf\xa3",  # the magic and nothing else
        b"\x00\x00\x00\x05wide",  # a QuickTime-looking box with an impossible size
    ],
)
def test_everything_else_is_not_a_video(head: bytes) -> None:
    assert None is sniff_container(head)


def test_content_does_not_matter_past_the_header() -> None:
    """Only the first bytes decide: an MP4 header before garbage is an MP4 (the probe will
    then find nothing to decode, and the file is kept without a poster)."""
    sniffed = sniff_container(ftyp(b"isom") + b"\x00" * 4000)
    assert sniffed is not None
    assert Container.MP4 == sniffed.container
