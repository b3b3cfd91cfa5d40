"""The object store kept videos live in: one small interface over ``obstore`` for a local
directory (the embedded default) and S3-like stores (S3, MinIO, R2; GCS and Azure through the
same constructor).

Publishing is atomic: nothing partial is ever visible under a final key.

- Local directory: the file is staged inside the store's own ``staging/`` folder (same file
  system), flushed to disk, then renamed onto its key (``obstore.rename``: a ``rename(2)``),
  and the directory is flushed too, so a crash leaves either nothing or the whole file.
- S3-like: the staged local file is uploaded with ``obstore.put`` — one ``PUT`` when small, a
  multipart upload otherwise, which the store makes visible only when it is completed. An upload
  killed half-way leaves an *incomplete multipart upload* (invisible, but billed by S3); obstore
  cannot list or abort those, so the bucket needs a lifecycle rule (``sweep.py``).

Errors (every store failure is transient for a copy: the work item retries it)::

    StoreError (OSError)             the store failed; ``disk_full`` when it was ENOSPC
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import obstore
from obstore.store import AzureStore, GCSStore, LocalStore, S3Store

if TYPE_CHECKING:
    from obstore.store import ObjectStore

STAGING_PREFIX = "staging/"
PRESIGN_CAP_S = 7 * 86400.0  # S3 refuses presigned URLs valid for longer (SigV4)
MULTIPART_CHUNK_BYTES = 8 * 1024 * 1024
MULTIPART_CONCURRENCY = 2  # parts in flight per upload: memory is chunk x concurrency
_PART_SUFFIX = ".part"


class StoreError(OSError):
    """The object store (or the local disk under it) failed; the message says how, without
    credentials. ``disk_full`` is set when the cause was ENOSPC."""

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


class StoredObject(msgspec.Struct, frozen=True):
    key: str
    size: int
    modified_at: float  # Unix seconds
    etag: str | None


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "No space left on device" in str(exc) or "os error 28" in str(exc)


def _store_error(action: str, key: str, exc: BaseException) -> StoreError:
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return StoreError(f"{action} {key!r}: {first_line}"[:500], disk_full=_is_disk_full(exc))


class OutputStore:
    """Put, head, delete, list, read a byte range, presign. Keys are relative to the store's
    own prefix (``videos/<job id>/video.mp4``); staging files live apart from them.

    ``staging_dir`` is where downloads are written before publishing. For a local store it is
    always the store's own ``staging/`` folder (a rename must not cross file systems).
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        location: str,
        staging_dir: Path | None = None,
        multipart_chunk_bytes: int = MULTIPART_CHUNK_BYTES,
        multipart_concurrency: int = MULTIPART_CONCURRENCY,
    ) -> None:
        self._store = store
        self.location = location  # for logs and messages: never carries credentials
        self.local_root: Path | None = None
        if isinstance(store, LocalStore):
            if store.prefix is None:
                raise ValueError("a local output store needs a directory")
            self.local_root = Path(store.prefix)
            self.staging_dir = self.local_root / STAGING_PREFIX.rstrip("/")
        elif staging_dir is None:
            raise ValueError("a remote output store needs a local staging directory")
        else:
            self.staging_dir = staging_dir
        self._chunk = multipart_chunk_bytes
        self._concurrency = multipart_concurrency

    @classmethod
    def local(cls, root: Path) -> OutputStore:
        """A store in the directory ``root`` (made if missing); deleting an object also
        removes the folders it leaves empty."""
        root.mkdir(parents=True, exist_ok=True)
        return cls(LocalStore(root, automatic_cleanup=True), location=root.as_uri())

    @property
    def is_local(self) -> bool:
        return self.local_root is not None

    @property
    def can_presign(self) -> bool:
        return isinstance(self._store, S3Store | GCSStore | AzureStore)

    def new_staging_path(self, label: str) -> Path:
        """A fresh staging file name (not created): ``<label>.<random>.part``."""
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        return self.staging_dir / f"{label}.{secrets.token_hex(6)}{_PART_SUFFIX}"

    async def publish_file(self, staged: Path, key: str, *, content_type: str) -> None:
        """Make the finished file ``staged`` the object ``key``, atomically; ``staged`` is gone
        afterwards whether this succeeds or fails. Overwrites an object already at ``key``
        (a resumed copy of the same job writes the same video)."""
        try:
            if self.local_root is not None and staged.parent == self.staging_dir:
                await asyncio.to_thread(_flush_file, staged)
                relative = staged.relative_to(self.local_root).as_posix()
                await obstore.rename_async(self._store, relative, key)
                await asyncio.to_thread(_flush_dir, self.local_root / key)
            else:
                await obstore.put_async(
                    self._store,
                    key,
                    staged,
                    attributes=None if self.is_local else {"Content-Type": content_type},
                    chunk_size=self._chunk,
                    max_concurrency=self._concurrency,
                )
        except (obstore.exceptions.BaseError, OSError) as exc:
            raise _store_error("could not publish", key, exc) from None
        finally:
            await asyncio.to_thread(staged.unlink, missing_ok=True)

    async def publish_bytes(self, data: bytes, key: str, *, content_type: str) -> None:
        """A small finished object (a poster) under ``key``, atomically."""
        staged = self.new_staging_path("bytes")
        try:
            await asyncio.to_thread(staged.write_bytes, data)
        except OSError as exc:
            staged.unlink(missing_ok=True)
            raise _store_error("could not stage", key, exc) from None
        await self.publish_file(staged, key, content_type=content_type)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> None:
        """Stream an object to ``key`` (never whole in memory), atomically: on a local store
        through a staging file; on S3 as one multipart upload completed at the end."""
        if self.local_root is not None:
            staged = self.new_staging_path("stream")
            try:
                with staged.open("wb") as sink:
                    async for chunk in chunks:
                        await asyncio.to_thread(sink.write, chunk)
            except OSError as exc:
                staged.unlink(missing_ok=True)
                raise _store_error("could not stage", key, exc) from None
            except BaseException:
                staged.unlink(missing_ok=True)
                raise
            await self.publish_file(staged, key, content_type=content_type)
            return
        try:
            await obstore.put_async(
                self._store,
                key,
                chunks,
                attributes={"Content-Type": content_type},
                chunk_size=self._chunk,
                max_concurrency=self._concurrency,
            )
        except (obstore.exceptions.BaseError, OSError) as exc:
            raise _store_error("could not put", key, exc) from None

    async def head(self, key: str) -> StoredObject | None:
        """The object's size, time and ETag, or None when there is none under ``key``."""
        try:
            meta = await obstore.head_async(self._store, key)
        except FileNotFoundError:
            return None
        except (obstore.exceptions.BaseError, OSError) as exc:
            raise _store_error("could not look at", key, exc) from None
        return StoredObject(
            key=meta["path"],
            size=meta["size"],
            modified_at=meta["last_modified"].timestamp(),
            etag=meta["e_tag"],
        )

    async def delete(self, key: str) -> bool:
        """Delete ``key``; False when there was nothing to delete (S3 does not say: True)."""
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            return False
        except (obstore.exceptions.BaseError, OSError) as exc:
            raise _store_error("could not delete", key, exc) from None
        return True

    async def list_objects(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every object whose key starts with the path segment(s) ``prefix`` (``videos/``),
        in no particular order, a page at a time."""
        try:
            async for page in obstore.list(self._store, prefix, chunk_size=500):
                for meta in page:
                    yield StoredObject(
                        key=meta["path"],
                        size=meta["size"],
                        modified_at=meta["last_modified"].timestamp(),
                        etag=meta["e_tag"],
                    )
        except FileNotFoundError:
            return  # a local store whose folder does not exist yet holds nothing
        except (obstore.exceptions.BaseError, OSError) as exc:
            raise _store_error("could not list", prefix, exc) from None

    async def open_range(
        self, key: str, start: int, end: int, *, chunk_bytes: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive) of ``key``, streamed in chunks of about
        ``chunk_bytes``. The range must lie within the object (see ``byte_ranges``)."""
        if end <= start:
            return
        try:
            result = await obstore.get_async(self._store, key, options={"range": (start, end)})
            async for chunk in result.stream(min_chunk_size=chunk_bytes):
                yield chunk
        except FileNotFoundError:
            raise
        except (obstore.exceptions.BaseError, OSError) as exc:
            raise _store_error("could not read", key, exc) from None

    async def presigned_get(self, key: str, expires_in_s: float) -> str | None:
        """A URL that GETs ``key`` without credentials for ``expires_in_s`` seconds (capped at
        S3's 7 days), or None for a store that cannot sign (a local directory)."""
        store = self._store
        if not isinstance(store, S3Store | GCSStore | AzureStore):
            return None
        seconds = max(1.0, min(expires_in_s, PRESIGN_CAP_S))
        try:
            return await obstore.sign_async(store, "GET", key, timedelta(seconds=int(seconds)))
        except (obstore.exceptions.BaseError, OSError, ValueError) as exc:
            raise _store_error("could not sign", key, exc) from None

    async def staged_files(self) -> list[tuple[Path, float]]:
        """Every staging file (``*.part``) and its modification time (Unix seconds)."""
        return await asyncio.to_thread(_list_staging, self.staging_dir)


def _flush_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _flush_dir(published: Path) -> None:
    """Persist the rename: flush the directory entry of ``published``."""
    fd = os.open(published.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _list_staging(directory: Path) -> list[tuple[Path, float]]:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    found: list[tuple[Path, float]] = []
    for entry in entries:
        if entry.name.endswith(_PART_SUFFIX) and entry.is_file(follow_symlinks=False):
            try:
                found.append((Path(entry.path), entry.stat(follow_symlinks=False).st_mtime))
            except FileNotFoundError:
                continue  # published or swept meanwhile
    return found
