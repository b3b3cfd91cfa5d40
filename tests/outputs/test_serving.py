"""Serving a kept video from the local store: 200 whole, 206 one range, 416 past the end,
304 for a known ETag, HEAD without a body; an object gone behind the gateway's back is
``ObjectMissing``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gateway.outputs import (
    ObjectMissing,
    OutputAnswer,
    OutputStore,
    open_output_store,
    serve_kept_object,
)
from mock_upstream.files import SAMPLE_MP4
from tests.outputs.conftest import local_settings

SAMPLE = SAMPLE_MP4.read_bytes()
SHA = hashlib.sha256(SAMPLE).hexdigest()
ETAG = f'"{SHA}"'
KEY = "videos/job_1/video.mp4"


@pytest.fixture
async def store(tmp_path: Path) -> OutputStore:
    store = open_output_store(local_settings(tmp_path / "outputs"))
    staged = store.new_staging_path("t")
    staged.write_bytes(SAMPLE)
    await store.publish_file(staged, KEY, content_type="video/mp4")
    return store


async def serve(store: OutputStore, **request: str) -> tuple[OutputAnswer, bytes]:
    answer = await serve_kept_object(
        store,
        KEY,
        sha256=SHA,
        content_type="video/mp4",
        expires_at=2_000_000_000,
        now=1_000_000_000,
        filename="job_1.mp4",
        **request,
    )
    body = b"".join([c async for c in answer.body]) if answer.body is not None else b""
    return answer, body


async def test_the_whole_video(store: OutputStore) -> None:
    answer, body = await serve(store)
    assert (200, SAMPLE) == (answer.status, body)
    assert {
        "accept-ranges": "bytes",
        "etag": ETAG,
        "cache-control": "private, max-age=3600",
        "content-type": "video/mp4",
        "content-length": str(len(SAMPLE)),
        "content-disposition": 'inline; filename="job_1.mp4"',
    } == answer.headers


async def test_one_range(store: OutputStore) -> None:
    answer, body = await serve(store, range_header="bytes=100-199")
    assert (206, SAMPLE[100:200], f"bytes 100-199/{len(SAMPLE)}", "100") == (
        answer.status,
        body,
        answer.headers["content-range"],
        answer.headers["content-length"],
    )
    tail, tail_body = await serve(store, range_header="bytes=-10")
    assert (206, SAMPLE[-10:]) == (tail.status, tail_body)


async def test_a_range_past_the_end(store: OutputStore) -> None:
    answer, body = await serve(store, range_header=f"bytes={len(SAMPLE)}-")
    assert (416, b"", f"bytes */{len(SAMPLE)}") == (
        answer.status,
        body,
        answer.headers["content-range"],
    )


async def test_validators(store: OutputStore) -> None:
    cached, cached_body = await serve(store, if_none_match=ETAG)
    stale_range, stale_body = await serve(store, range_header="bytes=0-9", if_range='"old"')
    fresh_range, fresh_body = await serve(store, range_header="bytes=0-9", if_range=ETAG)
    assert (304, b"", ETAG) == (cached.status, cached_body, cached.headers["etag"])
    assert (200, SAMPLE) == (stale_range.status, stale_body)  # changed since: the whole file
    assert (206, SAMPLE[:10]) == (fresh_range.status, fresh_body)


async def test_head_has_headers_and_no_body(store: OutputStore) -> None:
    whole, _ = await serve(store, method="HEAD")
    ranged, _ = await serve(store, method="HEAD", range_header="bytes=0-9")
    assert (200, None, str(len(SAMPLE))) == (
        whole.status,
        whole.body,
        whole.headers["content-length"],
    )
    assert (206, None, "10") == (ranged.status, ranged.body, ranged.headers["content-length"])


async def test_an_object_gone_from_the_store(store: OutputStore) -> None:
    await store.delete(KEY)
    with pytest.raises(ObjectMissing):
        await serve(store)
