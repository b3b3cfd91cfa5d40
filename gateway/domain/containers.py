"""Which video container a file is, from its first bytes — never from ``Content-Type`` (CDNs send
``application/octet-stream``, misconfigured ones ``text/plain``).

Pure. Recognised:

- ISO base media (MP4) and QuickTime (MOV): a first box ``ftyp`` at offset 4, judged by its major
  brand (``qt  `` is QuickTime; image brands such as HEIF/AVIF and audio-only
  brands such as ``M4A `` are not videos); an old QuickTime file may begin with ``moov``, ``mdat``,
  ``wide``, ``free`` or ``skip`` instead.
- Matroska and WebM: the EBML magic ``1A 45 DF A3``, with the header's ``DocType`` saying which.

Anything else is not a video we keep (:func:`sniff_container` answers ``None``).
"""

from __future__ import annotations

import enum

import msgspec

SNIFF_BYTES = 4096  # more than any header judged here needs

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = b"\x42\x82"
# Brands whose files are still images (HEIF, AVIF, JPEG 2000 in ISO boxes) or sound only.
_NOT_VIDEO_BRANDS = frozenset(
    {
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis",
        b"avio", b"jpx ", b"jp2 ", b"crx ",
        b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ",
    }
)  # fmt: skip
_QUICKTIME_FIRST_BOXES = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


class Container(enum.Enum):
    """A video container the gateway keeps: its media type and the file name extension."""

    MP4 = ("video/mp4", "mp4")
    QUICKTIME = ("video/quicktime", "mov")
    WEBM = ("video/webm", "webm")
    MATROSKA = ("video/x-matroska", "mkv")

    @property
    def media_type(self) -> str:
        return self.value[0]

    @property
    def extension(self) -> str:
        return self.value[1]


class Sniffed(msgspec.Struct, frozen=True):
    container: Container
    detail: str  # the brand or DocType that decided, for logs ("isom", "webm")


def sniff_container(head: bytes) -> Sniffed | None:
    """The container of a file that begins with ``head`` (give at least :data:`SNIFF_BYTES`
    bytes, or the whole file if shorter), or ``None`` when it is not a video container."""
    if head.startswith(_EBML_MAGIC):
        return _sniff_ebml(head)
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if len(head) >= 8 and head[4:8] in _QUICKTIME_FIRST_BOXES:
        size = int.from_bytes(head[0:4], "big")
        if size in (0, 1) or size >= 8:  # 0: to the end of file; 1: a 64-bit size follows
            return Sniffed(Container.QUICKTIME, head[4:8].decode("latin-1"))
    return None


def _sniff_ftyp(head: bytes) -> Sniffed | None:
    size = int.from_bytes(head[0:4], "big")
    if size < 16:  # size, "ftyp", major brand, minor version
        return None
    major = head[8:12]
    if major in _NOT_VIDEO_BRANDS:
        return None
    label = major.decode("latin-1").strip() or "ftyp"
    if major == b"qt  ":
        return Sniffed(Container.QUICKTIME, label)
    return Sniffed(Container.MP4, label)


def _read_vint(data: bytes, at: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``at``: (value, length in bytes), or None."""
    if at >= len(data):
        return None
    first = data[at]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        length += 1
        mask >>= 1
    if length > 8 or at + length > len(data):
        return None
    value = first if keep_marker else first & (mask - 1)
    for byte in data[at + 1 : at + length]:
        value = (value << 8) | byte
    return value, length


def _sniff_ebml(head: bytes) -> Sniffed | None:
    """The EBML header's ``DocType``: ``webm`` or ``matroska``; another EBML document (or a
    header without a DocType) is not a video we know."""
    at = len(_EBML_MAGIC)
    size = _read_vint(head, at, keep_marker=False)
    if size is None:
        return None
    header_size, length = size
    at += length
    end = min(len(head), at + header_size)
    while at < end:
        element = _read_vint(head, at, keep_marker=True)
        if element is None:
            return None
        at += element[1]
        data_size = _read_vint(head, at, keep_marker=False)
        if data_size is None:
            return None
        at += data_size[1]
        value = head[at : at + data_size[0]]
        at += data_size[0]
        if element[0] == int.from_bytes(_EBML_DOCTYPE_ID, "big"):
            doctype = value.rstrip(b"\x00").decode("ascii", "replace")
            if doctype == "webm":
                return Sniffed(Container.WEBM, doctype)
            if doctype == "matroska":
                return Sniffed(Container.MATROSKA, doctype)
            return None
    return None
