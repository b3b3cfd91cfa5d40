"""The output store on both backends: put, head, delete, list, ranges; atomic publishing
(a cancelled upload leaves nothing under its key — on S3 an incomplete multipart upload, which
only the bucket's lifecycle rule can abort); and failures as transient store errors."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from obstore.store import LocalStore

from gateway.delivery.guard import AddressGuard
from gateway.domain.addresses import Allowlist
from gateway.domain.outputs import KeepFailureReason
from gateway.outputs import (
    Copier,
    KeepFailure,
    OutputStore,
    SourceClient,
    open_output_store,
    serve_kept_object,
)
from mock_upstream.files import SAMPLE_MP4
from tests.outputs.conftest import (
    Backend,
    Mock,
    S3Server,
    local_settings,
    read_all,
    s3_settings,
    stored_keys,
)

SAMPLE = SAMPLE_MP4.read_bytes()
MIB = 1024 * 1024


async def test_put_head_list_range_delete(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    staged = store.new_staging_path("t")
    staged.write_bytes(SAMPLE)
    await store.publish_file(staged, "videos/j/video.mp4", content_type="video/mp4")
    await store.publish_bytes(b"poster", "videos/j/poster.jpg", content_type="image/jpeg")
    found = await store.head("videos/j/video.mp4")
    assert found is not None
    assert ("videos/j/video.mp4", len(SAMPLE), False) == (found.key, found.size, staged.exists())
    assert ["videos/j/poster.jpg", "videos/j/video.mp4"] == await stored_keys(store)
    middle = b"".join([c async for c in store.open_range("videos/j/video.mp4", 100, 200)])
    assert SAMPLE[100:200] == middle
    assert True is await store.delete("videos/j/video.mp4")
    assert None is await store.head("videos/j/video.mp4")
    assert ["videos/j/poster.jpg"] == await stored_keys(store)
    assert [] == await store.staged_files()
    assert await store.delete("videos/j/poster.jpg")
    again = await store.delete("videos/j/poster.jpg")
    assert (backend.name == "s3") == again  # S3 does not say whether there was one
    if store.local_root is not None:  # no empty folder is left per job
        assert not (store.local_root / "videos" / "j").exists()


async def test_put_stream_round_trip(backend: Backend) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield bytes([i]) * (6 * MIB)  # over the multipart part size on S3

    await backend.store.put_stream("videos/s/video.mp4", parts(), content_type="video/mp4")
    data = await read_all(backend.store, "videos/s/video.mp4")
    assert (18 * MIB, b"\x02") == (len(data), data[-1:])


async def test_a_cancelled_upload_publishes_nothing(backend: Backend) -> None:
    """Parts are sent, then the writer is cancelled before the end: nothing under the key."""
    sent = asyncio.Event()

    async def parts() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"\x00" * (6 * MIB)
        sent.set()
        await asyncio.Event().wait()  # the rest never comes

    task = asyncio.create_task(
        backend.store.put_stream("videos/c/video.mp4", parts(), content_type="video/mp4")
    )
    await asyncio.wait_for(sent.wait(), timeout=30)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert (None, []) == (
        await backend.store.head("videos/c/video.mp4"),
        await stored_keys(backend.store),
    )
    assert [] == await backend.store.staged_files()
    if backend.s3 is not None:
        # What obstore cannot see: the upload is still open in the bucket, and billed, until
        # the lifecycle rule (deploy/s3-lifecycle.json) aborts it.
        uploads = backend.s3.client.list_multipart_uploads(Bucket=backend.bucket)
        assert ["kept/videos/c/video.mp4"] == [u["Key"] for u in uploads.get("Uploads", [])]


async def test_a_presigned_url_answers_the_bytes(s3_server: S3Server, tmp_path: Path) -> None:
    store = open_output_store(s3_settings(s3_server, s3_server.new_bucket(), tmp_path))
    staged = store.new_staging_path("t")
    staged.write_bytes(SAMPLE)
    await store.publish_file(staged, "videos/p/video.mp4", content_type="video/mp4")
    answer = await serve_kept_object(
        store,
        "videos/p/video.mp4",
        sha256=hashlib.sha256(SAMPLE).hexdigest(),
        content_type="video/mp4",
        expires_at=1_000_000 + 3600,
        now=1_000_000,
    )
    assert (302, "no-store") == (answer.status, answer.headers["cache-control"])
    assert answer.redirect_to is not None
    assert "X-Amz-Expires=3600" in answer.redirect_to
    async with httpx.AsyncClient() as http:
        got = await http.get(answer.redirect_to)
        ranged = await http.get(answer.redirect_to, headers={"Range": "bytes=0-7"})
    assert (200, SAMPLE, "video/mp4") == (got.status_code, got.content, got.headers["content-type"])
    assert (206, SAMPLE[:8]) == (ranged.status_code, ranged.content)


async def test_presigned_urls_are_capped_at_seven_days(s3_server: S3Server, tmp_path: Path) -> None:
    store = open_output_store(s3_settings(s3_server, s3_server.new_bucket(), tmp_path))
    url = await store.presigned_get("videos/x/video.mp4", 30 * 86400)
    assert url is not None
    assert "X-Amz-Expires=604800" in url


async def test_an_unreachable_bucket_is_a_transient_failure(
    s3_server: S3Server, tmp_path: Path, mock: Mock
) -> None:
    settings = s3_settings(s3_server, "nowhere", tmp_path).with_(
        output_s3_endpoint="http://127.0.0.1:9",  # discard port: nothing listens
        output_s3_access_key_id="AKIA-DISTINCT-KEY-ID",
        output_s3_secret_access_key="distinct-secret-value",
    )
    copier = Copier.from_settings(settings, open_output_store(settings))
    try:
        result = await copier.copy_video(await mock.video_url(), job_id="job_1")
    finally:
        await copier.aclose()
    assert isinstance(result, KeepFailure)
    assert (KeepFailureReason.STORE_UNAVAILABLE, True) == (result.reason, result.transient)
    assert "AKIA-DISTINCT" not in result.message
    assert "distinct-secret" not in result.message
    assert [] == await copier.store.staged_files()


class FullStagingDisk(OutputStore):
    """A store whose staging files land on a full disk: each is a link to ``/dev/full``, where
    every write fails with ENOSPC (removing the link leaves the device alone)."""

    def new_staging_path(self, label: str) -> Path:
        path = super().new_staging_path(label)
        path.symlink_to("/dev/full")
        return path


async def test_a_full_disk_is_a_transient_failure(tmp_path: Path, mock: Mock) -> None:
    root = tmp_path / "outputs"
    root.mkdir()
    store = FullStagingDisk(LocalStore(root), location=root.as_uri())
    copier = Copier(store, SourceClient(AddressGuard(Allowlist.parse("127.0.0.1/32"))))
    try:
        result = await copier.copy_video(await mock.video_url(), job_id="job_1")
    finally:
        await copier.aclose()
    assert isinstance(result, KeepFailure)
    assert (KeepFailureReason.DISK_FULL, True) == (result.reason, result.transient)
    assert ([], []) == (await stored_keys(store), await store.staged_files())


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (needs root and mount; skipped otherwise: the /dev/full test above
    covers the same path without it)."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if os.geteuid() != 0 or not Path("/usr/bin/mount").exists():
        pytest.skip("mounting a tmpfs needs root and /usr/bin/mount")
    mounted = subprocess.run(  # noqa: S603 (fixed arguments)
        ["/usr/bin/mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["/usr/bin/umount", "-l", str(mountpoint)], check=False)  # noqa: S603


async def test_a_really_full_local_store(tiny_tmpfs: Path, mock: Mock) -> None:
    settings = local_settings(tiny_tmpfs / "outputs")
    store = open_output_store(settings)
    copier = Copier.from_settings(settings, store)
    try:
        result = await copier.copy_video(await mock.video_url("video_huge_1"), job_id="job_1")
    finally:
        await copier.aclose()
    assert isinstance(result, KeepFailure)
    assert (KeepFailureReason.DISK_FULL, True) == (result.reason, result.transient)
    assert ([], []) == (await stored_keys(store), await store.staged_files())
