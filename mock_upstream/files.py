"""The mock's video files: ``GET /files/<generation id>.mp4``, a raw ASGI handler so that the
video scenarios can misbehave the way a CDN does (slow, cut short, redirected, mislabelled,
huge).

A link of a completed job is signed with ``Expires=`` (``MockConfig.video_ttl_s`` after
completion); a wrong or missing signature, or an expired one, is a 403 with S3's
``AccessDenied`` body. Huge files are generated on the fly: a real MP4 header (the sample's
``ftyp`` box, so a sniffer takes it for a video), then zeros, one reused 1 MiB block at a time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from litestar.types import Receive, Scope, Send

from mock_upstream.links import check_link
from mock_upstream.state import MockState

SAMPLE_MP4 = Path(__file__).parent / "assets" / "sample.mp4"
MIB = 1024 * 1024
_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
)
_NOT_FOUND = b'{"message": "Not Found", "statusCode": 404}'
_NOT_VIDEO = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>The origin did not answer.</p></body></html>"
)


async def _answer(send: Send, status: int, body: bytes, media_type: str, **extra: str) -> None:
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *[(k.replace("_", "-").encode(), v.encode()) for k, v in extra.items()],
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _huge(send: Send, size: int, *, chunked: bool) -> None:
    head = SAMPLE_MP4.read_bytes()[:32]  # the ftyp box: sniffed as MP4
    block = bytes(MIB)
    headers = [(b"content-type", b"video/mp4")]
    if not chunked:
        headers.append((b"content-length", str(size).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    first = head[:size]
    await send({"type": "http.response.body", "body": first, "more_body": True})
    left = size - len(first)
    while left > 0:
        piece = block if left >= MIB else block[:left]
        left -= len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": left > 0})
    if size <= len(head):  # everything went out with the header
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _trickle(send: Send, data: bytes, seconds: float) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"video/mp4"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    pieces = 8
    step = -(-len(data) // pieces)
    for i in range(pieces):
        await asyncio.sleep(seconds / pieces)
        chunk = data[i * step : (i + 1) * step]
        await send({"type": "http.response.body", "body": chunk, "more_body": i < pieces - 1})


async def _truncated(send: Send, data: bytes) -> None:
    """Promise the whole file, send half, and end: the server closes the connection."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"video/mp4"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
    # Returning without the last body message: the server drops the connection.


async def serve_file(state: MockState, scope: Scope, _receive: Receive, send: Send) -> None:
    name = str(scope.get("path", "")).strip("/")  # mounted at /files: the rest of the path
    job = state.jobs.get(name.removesuffix(".mp4")) if name.endswith(".mp4") else None
    if job is None:
        await _answer(send, 404, _NOT_FOUND, "application/json")
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if state.config.video_ttl_s is not None:
        verdict = check_link(
            name,
            _first(query, "Expires"),
            _first(query, "Signature"),
            secret=state.video_secret,
            now=state.config.clock(),
        )
        if verdict != "ok":
            await _answer(send, 403, _ACCESS_DENIED, "application/xml")
            return
    scenario = job.scenario
    with state.lock:
        job.downloads += 1
        downloads = job.downloads
    fault, param = scenario.video, scenario.video_param
    if fault == "500" and downloads <= param:
        await _answer(send, 500, b'{"message": "Internal Server Error"}', "application/json")
        return
    if fault == "redirect":
        hop = int((query.get("hop") or ["0"])[0] or 0)
        if hop < param:
            location = _with_hop(name, query, hop + 1)
            await _answer(send, 302, b"", "text/plain", location=location)
            return
    if fault in ("huge", "huge_chunked"):
        await _huge(send, int(param * MIB), chunked=fault == "huge_chunked")
        return
    data = SAMPLE_MP4.read_bytes()
    if fault == "slow":
        await _trickle(send, data, param)
    elif fault == "truncated":
        await _truncated(send, data)
    elif fault == "not_video":
        await _answer(send, 200, _NOT_VIDEO, "video/mp4")
    elif fault == "octet_stream":
        await _answer(send, 200, data, "application/octet-stream")
    else:
        await _answer(send, 200, data, "video/mp4")


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _with_hop(name: str, query: dict[str, list[str]], hop: int) -> str:
    params: dict[str, Any] = {k: v[0] for k, v in query.items() if k != "hop"}
    params["hop"] = hop
    return f"/files/{name}?{urlencode(params)}"
