"""Keeping one finished video: download it from the upstream's link, check it, describe it and
publish it to the output store — or say exactly why not.

:meth:`Copier.copy_video` never raises for the source's or the store's trouble: it answers a
:class:`KeptVideo` or a :class:`KeepFailure` whose ``reason`` (a
:class:`gateway.domain.outputs.KeepFailureReason`) says whether a retry can help
(``failure.transient``). Cancelling it (a lease lost, a shutdown) leaves no object under the
final key and removes its staging file.

One copy, step by step:

1. hold one of the copier's slots (``copier.slots``: the cap on copies in flight);
2. open the link through the SSRF guard with the outputs' own allow-list, following at most a
   few redirects, each hop judged (``source.py``);
3. refuse a ``Content-Length`` over the limit before reading, and count while reading (a body
   without a length, or one that lies, is cut at the limit);
4. sniff the container from the first 4 KiB (``gateway.domain.containers``) — never
   ``Content-Type`` — and stop at once when it is not a video;
5. stream the rest to a staging file, hashed and written in the copier's threads
   (``staging.py``); a body shorter than its ``Content-Length`` is ``truncated`` (transient);
6. probe width, height and duration and extract a JPEG poster with PyAV, in a thread
   (``probe.py``); a file FFmpeg cannot decode is kept without them;
7. publish the poster, then the video (atomically: ``store.py``).

The whole attempt is bounded by ``copy_timeout_s`` (``timeout``, transient).
"""

from __future__ import annotations

import asyncio
import errno
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx
import msgspec

from gateway.delivery.guard import AddressGuard
from gateway.domain.addresses import Allowlist
from gateway.domain.containers import SNIFF_BYTES, Container, Sniffed, sniff_container
from gateway.domain.outputs import KeepFailureReason, link_expiry, output_keys
from gateway.outputs.probe import probe_video
from gateway.outputs.slots import CopySlots
from gateway.outputs.source import SourceClient, SourceFailure, shown_url, transport_failure
from gateway.outputs.staging import BUFFER_BYTES, StagingWriter
from gateway.outputs.store import OutputStore, StoreError

if TYPE_CHECKING:
    from gateway.settings import Settings

DEFAULT_MAX_BYTES = 2 * 1024**3


class KeptVideo(msgspec.Struct, frozen=True, kw_only=True):
    """A video kept in the output store (what the job records and the view shows)."""

    key: str  # the video's key in the store: videos/<job id>/video.<ext>
    name: str  # the file name in its signed link: video.mp4, video.webm, …
    poster_key: str | None  # videos/<job id>/poster.jpg, or None when no frame was decoded
    sha256: str  # hex, of exactly the bytes kept
    bytes: int
    content_type: str  # from the sniffed container: video/mp4, video/quicktime, video/webm, …
    container: str  # mp4, mov, webm, mkv
    width: int | None
    height: int | None
    duration_s: float | None
    upstream_url: str  # the link it was copied from (as given, query included)
    link_expires_at: float | None  # the upstream link's own expiry, when it says
    probe_note: str | None  # why dimensions or the poster are missing


class KeepFailure(msgspec.Struct, frozen=True, kw_only=True):
    """Why the video was not kept; ``transient`` says whether trying again can help."""

    reason: KeepFailureReason
    message: str  # for people; names the host and path, never a link's query (its signature)
    http_status: int | None = None  # the source's last status, when it answered
    retry_after_s: float | None = None
    link_expires_at: float | None = None

    @property
    def transient(self) -> bool:
        return self.reason.transient


class _Failed(Exception):
    def __init__(self, reason: KeepFailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _disk_reason(exc: OSError) -> KeepFailureReason:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return KeepFailureReason.DISK_FULL
    return KeepFailureReason.STORE_UNAVAILABLE


class Copier:
    """Copies videos into ``store``. ``slots`` caps copies in flight (default: ``concurrency``
    slots of its own); hashing, writing and probing run on a pool of ``concurrency + 1``
    threads owned by the copier."""

    def __init__(
        self,
        store: OutputStore,
        source: SourceClient,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        concurrency: int = 4,
        copy_timeout_s: float = 3600.0,
        buffer_bytes: int = BUFFER_BYTES,
        slots: CopySlots | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.max_bytes = max_bytes
        self.copy_timeout_s = copy_timeout_s
        self.buffer_bytes = buffer_bytes
        self.slots = slots or CopySlots(concurrency)
        self._executor = ThreadPoolExecutor(
            max_workers=self.slots.capacity + 1, thread_name_prefix="gateway-copy"
        )

    @classmethod
    def from_settings(cls, settings: Settings, store: OutputStore) -> Copier:
        """The copier the gateway runs: its own guard from ``GATEWAY_OUTPUT_SOURCE_ALLOWLIST``
        (never the callbacks' allow-list), limits and timeouts from the settings."""
        guard = AddressGuard(Allowlist.parse(",".join(settings.output_source_allowlist)))
        source = SourceClient(
            guard,
            max_redirects=settings.output_max_redirects,
            connect_timeout_s=settings.output_connect_timeout_s,
            read_timeout_s=settings.output_read_timeout_s,
            max_connections=settings.output_copy_concurrency * 2,
        )
        return cls(
            store,
            source,
            max_bytes=settings.output_max_bytes,
            concurrency=settings.output_copy_concurrency,
            copy_timeout_s=settings.output_copy_timeout_s,
        )

    async def aclose(self) -> None:
        await self.source.aclose()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def copy_video(self, source_url: str, *, job_id: str) -> KeptVideo | KeepFailure:
        """Keep the video at ``source_url`` as job ``job_id``'s output (see the module doc).
        Idempotent: a second copy of the same job overwrites the same keys. A ``job_id`` that
        cannot name an object raises ``ValueError`` at once (a caller's bug, not a failure)."""
        output_keys(job_id, Container.MP4)
        link_expires_at = link_expiry(source_url)
        async with self.slots.hold():
            try:
                async with asyncio.timeout(self.copy_timeout_s):
                    return await self._copy(source_url, job_id, link_expires_at)
            except TimeoutError:
                reason, message = (
                    KeepFailureReason.TIMEOUT,
                    f"the copy took longer than {self.copy_timeout_s:g} s",
                )
            except SourceFailure as exc:
                return KeepFailure(
                    reason=exc.reason,
                    message=str(exc),
                    http_status=exc.status,
                    retry_after_s=exc.retry_after_s,
                    link_expires_at=link_expires_at,
                )
            except _Failed as exc:
                reason, message = exc.reason, str(exc)
            except StoreError as exc:
                reason = (
                    KeepFailureReason.DISK_FULL
                    if exc.disk_full
                    else KeepFailureReason.STORE_UNAVAILABLE
                )
                message = str(exc)
            except OSError as exc:  # the staging disk
                reason, message = _disk_reason(exc), f"staging failed: {exc.strerror or exc}"
        return KeepFailure(reason=reason, message=message, link_expires_at=link_expires_at)

    async def _copy(self, source_url: str, job_id: str, link_expires_at: float | None) -> KeptVideo:
        response, final_url = await self.source.open(source_url)
        writer: StagingWriter | None = None
        try:
            declared = _content_length(response)
            if declared is not None and declared > self.max_bytes:
                raise _Failed(
                    KeepFailureReason.TOO_BIG,
                    f"{shown_url(final_url)} announces {declared} bytes, "
                    f"more than the limit of {self.max_bytes}",
                )
            writer = StagingWriter(
                self.store.new_staging_path(job_id),
                executor=self._executor,
                buffer_bytes=self.buffer_bytes,
            )
            sniffed = await self._download(response, final_url, writer, declared)
            size, sha256 = await writer.finish()
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        finally:
            await response.aclose()
        try:
            probe = await asyncio.get_running_loop().run_in_executor(
                self._executor, probe_video, writer.path
            )
            keys = output_keys(job_id, sniffed.container)
            if probe.poster_jpeg:
                await self.store.publish_bytes(
                    probe.poster_jpeg, keys.poster, content_type="image/jpeg"
                )
            await self.store.publish_file(
                writer.path, keys.video, content_type=sniffed.container.media_type
            )
        finally:
            # Published (renamed away) or abandoned: gone either way.
            await asyncio.to_thread(writer.path.unlink, missing_ok=True)
        return KeptVideo(
            key=keys.video,
            name=keys.video_name,
            poster_key=keys.poster if probe.poster_jpeg else None,
            sha256=sha256,
            bytes=size,
            content_type=sniffed.container.media_type,
            container=sniffed.container.extension,
            width=probe.width,
            height=probe.height,
            duration_s=probe.duration_s,
            upstream_url=source_url,
            link_expires_at=link_expires_at,
            probe_note=probe.note,
        )

    async def _download(
        self,
        response: httpx.Response,
        url: str,
        writer: StagingWriter,
        declared: int | None,
    ) -> Sniffed:
        head = bytearray()
        sniffed: Sniffed | None = None
        received = 0
        try:
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > self.max_bytes:
                    raise _Failed(
                        KeepFailureReason.TOO_BIG,
                        f"{shown_url(url)} sent more than the limit of {self.max_bytes} bytes",
                    )
                if sniffed is not None:
                    await writer.write(chunk)
                    continue
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    sniffed = _sniff(bytes(head), url)
                    await writer.write(bytes(head))
        except httpx.HTTPError as exc:
            stalled = isinstance(exc, httpx.TimeoutException)
            if declared is not None and received < declared and not stalled:
                raise _Failed(
                    KeepFailureReason.TRUNCATED,
                    f"{shown_url(url)} ended after {received} of {declared} bytes "
                    f"({type(exc).__name__})",
                ) from None
            raise transport_failure(exc, url) from None
        if declared is not None and received < declared:
            raise _Failed(
                KeepFailureReason.TRUNCATED,
                f"{shown_url(url)} ended after {received} of {declared} bytes",
            )
        if sniffed is None:  # shorter than the sniffing window
            sniffed = _sniff(bytes(head), url)
            await writer.write(bytes(head))
        return sniffed


def _sniff(head: bytes, url: str) -> Sniffed:
    sniffed = sniff_container(head)
    if sniffed is None:
        raise _Failed(
            KeepFailureReason.NOT_VIDEO,
            f"{shown_url(url)} is not a video container we know "
            f"(first bytes {head[:12].hex(' ') or 'none: empty body'})",
        )
    return sniffed


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None
