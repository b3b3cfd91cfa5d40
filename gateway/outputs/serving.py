"""Answering a verified request for a kept video or poster: what the HTTP handler sends.

The handler first checks the signed link (``gateway.domain.output_links``: 403 tampered, 410
past retention) and the job's record (kept, not deleted), then calls :func:`serve_kept_object`
and turns the :class:`OutputAnswer` into its framework's response. Two ways to answer:

- a store that can presign (S3 and the like): ``302`` to a fresh presigned URL, valid until the
  retention ends or at most 7 days (S3's cap), with ``Cache-Control: no-store`` so nobody keeps
  the redirect past the URL's life;
- a local directory: the bytes, with ``Accept-Ranges: bytes``, ``ETag`` (the SHA-256),
  ``Content-Length`` and the type: ``200`` whole, ``206`` one range with ``Content-Range``,
  ``416`` with ``Content-Range: bytes */size`` for a range past the end, ``304`` for a matching
  ``If-None-Match``. ``HEAD`` answers the same without a body.

Errors::

    ObjectMissing (LookupError)     the store has no such object although the record says kept
                                    (deleted behind the gateway's back): answer 410 or 404
    StoreError                      the store failed: answer 503 with Retry-After
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from gateway.domain.byte_ranges import (
    ByteRange,
    Unsatisfiable,
    not_modified,
    parse_range,
    range_applies,
    strong_etag,
)
from gateway.outputs.store import OutputStore

CACHE_CONTROL = "private, max-age=3600"


class ObjectMissing(LookupError):
    """No object under the key: the record and the store disagree."""


@dataclass
class OutputAnswer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: AsyncIterator[bytes] | None = None  # stream it, then it is exhausted

    @property
    def redirect_to(self) -> str | None:
        return self.headers.get("location") if self.status == 302 else None


async def serve_kept_object(
    store: OutputStore,
    key: str,
    *,
    sha256: str,
    content_type: str,
    expires_at: float,
    now: float,
    method: str = "GET",
    range_header: str | None = None,
    if_none_match: str | None = None,
    if_range: str | None = None,
    filename: str | None = None,
) -> OutputAnswer:
    """The answer for ``method`` (GET or HEAD) on the object ``key`` (whose SHA-256 and type
    the job recorded), given the request's ``Range``, ``If-None-Match`` and ``If-Range``."""
    if store.can_presign:
        url = await store.presigned_get(key, expires_at - now)
        assert url is not None
        return OutputAnswer(302, {"location": url, "cache-control": "no-store"})
    found = await store.head(key)
    if found is None:
        raise ObjectMissing(key)
    size = found.size
    etag = strong_etag(sha256)
    headers = {
        "accept-ranges": "bytes",
        "etag": etag,
        "cache-control": CACHE_CONTROL,
        "content-type": content_type,
    }
    if filename:
        headers["content-disposition"] = f'inline; filename="{filename}"'
    if not_modified(if_none_match, etag):
        return OutputAnswer(304, {k: v for k, v in headers.items() if k != "content-type"})
    wanted = parse_range(range_header, size) if range_applies(if_range, etag) else None
    if isinstance(wanted, Unsatisfiable):
        return OutputAnswer(
            416,
            {
                "content-range": wanted.content_range(size),
                "accept-ranges": "bytes",
                "content-length": "0",
            },
        )
    if isinstance(wanted, ByteRange):
        headers["content-range"] = wanted.content_range(size)
        headers["content-length"] = str(wanted.length)
        body = None if method == "HEAD" else store.open_range(key, wanted.start, wanted.end + 1)
        return OutputAnswer(206, headers, body)
    headers["content-length"] = str(size)
    body = None if method == "HEAD" else store.open_range(key, 0, size)
    return OutputAnswer(200, headers, body)
