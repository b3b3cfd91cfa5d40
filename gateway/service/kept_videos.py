"""What callers do with kept videos: download one through its signed link, delete one, and the
retention sweep that removes them when their time is up (issue 26).

A download needs no ``Authorization`` header: the link's signature is the permission
(``gateway.domain.output_links``: 403 tampered, 410 past its expiry). The job's record then
decides: a video deleted or expired is 410 too, whatever the link says. Removal writes the
record first (``output_removed``) and deletes the objects after, so a video is never served
once its record says gone; a crash between the two leaves an object no record points at (never
served; the store's own lifecycle rules, or the operator, clean it).
"""

from __future__ import annotations

import structlog

from gateway.domain.output_links import verify_output_link
from gateway.errors import NotFound, OutputGone, OutputLinkInvalid, OutputStoreUnavailable
from gateway.outputs import (
    ObjectMissing,
    OutputAnswer,
    StoreError,
    remove_stale_staging,
    serve_kept_object,
    stale_after_s,
)
from gateway.service.kept_outputs import KeptOutputs
from gateway.service.runtime import Runtime
from gateway.store.records import JobRecord

SWEEP_BATCH = 200
_log = structlog.get_logger("gateway")


class DownloadRequest:
    """What a download asked for: the link's parts and the request's conditional headers."""

    __slots__ = ("expires", "if_none_match", "if_range", "job_id", "method", "name", "range", "sig")

    def __init__(
        self,
        job_id: str,
        name: str,
        *,
        expires: str | None,
        sig: str | None,
        method: str = "GET",
        range: str | None = None,
        if_none_match: str | None = None,
        if_range: str | None = None,
    ) -> None:
        self.job_id, self.name, self.expires, self.sig = job_id, name, expires, sig
        self.method, self.range = method, range
        self.if_none_match, self.if_range = if_none_match, if_range


class KeptVideos:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _outputs(self) -> KeptOutputs:
        if self.rt.outputs is None:
            raise NotFound("This gateway keeps no videos (GATEWAY_OUTPUTS=link)")
        return self.rt.outputs

    async def download(self, asked: DownloadRequest) -> OutputAnswer:
        outputs = self._outputs()
        now = self.rt.clock()
        verdict = verify_output_link(
            outputs.signing_keys, asked.job_id, asked.name, asked.expires, asked.sig, now=now
        )
        if verdict == "tampered":
            raise OutputLinkInvalid("This link to a kept video is not one this gateway signed")
        if verdict == "expired":
            raise OutputGone("This link's retention has ended; the video is no longer kept")
        job = await self.rt.store.jobs.get_job(asked.job_id)
        key, content_type, sha256 = _object_of(job, asked.name)
        assert job is not None
        assert job.output_expires_at is not None
        try:
            return await serve_kept_object(
                outputs.store,
                key,
                sha256=sha256,
                content_type=content_type,
                expires_at=job.output_expires_at,
                now=now,
                method=asked.method,
                range_header=asked.range,
                if_none_match=asked.if_none_match,
                if_range=asked.if_range,
                filename=f"{job.id}-{asked.name}",
            )
        except ObjectMissing:
            raise OutputGone("The kept video is missing from the store") from None
        except StoreError:
            raise OutputStoreUnavailable("The kept videos' store cannot be read now") from None

    async def delete(self, job: JobRecord) -> JobRecord:
        """Remove ``job``'s kept video (its caller asked); the job as it reads afterwards.
        Deleting a video already deleted or expired changes nothing."""
        outputs = self._outputs()
        if not job.output_kept:
            raise NotFound("This job has no kept video")
        if job.output_removed is None:
            now = self.rt.clock()
            if await self.rt.store.outputs.mark_removed(job.id, "deleted", now=now):
                self.rt.metrics.outputs_removed.labels(how="deleted").inc()
                await _delete_objects(outputs, job.output_key, job.output_poster_key)
        updated = await self.rt.store.jobs.get_job(job.id)
        assert updated is not None
        return updated

    async def sweep(self) -> int:
        """The retention sweep now (``sweep_kept_outputs``)."""
        return await sweep_kept_outputs(self.rt)


async def sweep_kept_outputs(rt: Runtime) -> int:
    """Remove every kept video whose retention has ended (a batch at a time), and staging files
    a killed copy left behind; how many videos were removed."""
    outputs = rt.outputs
    if outputs is None:
        return 0
    now = rt.clock()
    removed = 0
    while True:
        batch = await rt.store.outputs.expired(now=now, limit=SWEEP_BATCH)
        for kept in batch:
            if await rt.store.outputs.mark_removed(kept.job_id, "expired", now=now):
                removed += 1
                rt.metrics.outputs_removed.labels(how="expired").inc()
                await _delete_objects(outputs, kept.key, kept.poster_key)
        if len(batch) < SWEEP_BATCH:
            break
    settings = rt.settings
    stale = await remove_stale_staging(
        outputs.store,
        now=now,
        older_than_s=stale_after_s(settings.output_copy_timeout_s, settings.output_read_timeout_s),
    )
    if removed or stale:
        rt.log.info("outputs_swept", expired=removed, staging_files=len(stale))
    return removed


def _object_of(job: JobRecord | None, name: str) -> tuple[str, str, str]:
    """The store key, type and SHA-256 (the ETag) of ``name`` of ``job``; 410 when gone."""
    if job is None or not job.output_kept or job.output_key is None:
        raise OutputGone("This job has no kept video")
    if job.output_removed is not None:
        raise OutputGone(f"The kept video was {job.output_removed}")
    if name == "poster.jpg":
        if job.output_poster_key is None:
            raise OutputGone("This kept video has no poster")
        return job.output_poster_key, "image/jpeg", _poster_tag(job)
    if not job.output_key.endswith("/" + name):
        raise OutputGone("This job's kept video has another name")
    return job.output_key, job.output_content_type or "video/mp4", job.output_sha256 or ""


def _poster_tag(job: JobRecord) -> str:
    """An entity tag for the poster: the video's hash, marked (the poster follows from it)."""
    return f"poster-{job.output_sha256 or job.id}"


async def _delete_objects(outputs: KeptOutputs, *keys: str | None) -> None:
    for key in keys:
        if key is None:
            continue
        try:
            await outputs.store.delete(key)
        except StoreError as exc:
            # The record says removed: it is never served again. The object stays until the
            # operator's store cleans it; the log says which.
            _log.warning("output_delete_failed", key=key, error=str(exc))
