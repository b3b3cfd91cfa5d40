"""Cleaning what a crash can leave behind in the output store.

- **Staging files** (``*.part``): a copy killed mid-way (SIGKILL, power loss) leaves its
  download in the staging folder. A live copy writes its file at least every read timeout and
  holds it no longer than the copy timeout, so a file untouched for longer than that is an
  orphan: :func:`remove_stale_staging` deletes it.
- **Incomplete multipart uploads** (S3 and S3-compatible stores): an upload killed between its
  first part and its completion is invisible — no object exists under the key, which is the
  point — but its parts are stored, and S3 bills them until the upload is aborted. obstore
  (0.12) can neither list nor abort uploads it did not start itself, so the gateway cannot find
  them. The bucket's lifecycle rule does it instead: :data:`S3_LIFECYCLE` (also in
  ``deploy/s3-lifecycle.json``) aborts every incomplete upload a day after it started; AWS S3,
  MinIO and Cloudflare R2 all support ``AbortIncompleteMultipartUpload``::

      aws s3api put-bucket-lifecycle-configuration --bucket BUCKET \\
          --lifecycle-configuration file://deploy/s3-lifecycle.json

- **Expired and deleted videos** are the job records' business: the sweeper that reads them
  calls :meth:`OutputStore.delete` for each key; :meth:`OutputStore.list_objects` with
  ``videos/`` lists what the store holds, to find objects no record points at.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gateway.outputs.store import OutputStore

STALE_STAGING_MARGIN_S = 600.0

S3_LIFECYCLE: dict[str, Any] = {
    "Rules": [
        {
            "ID": "gateway-abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ]
}


def stale_after_s(copy_timeout_s: float, read_timeout_s: float) -> float:
    """How long a staging file must sit untouched before it is surely abandoned."""
    return max(copy_timeout_s, read_timeout_s) + STALE_STAGING_MARGIN_S


async def remove_stale_staging(
    store: OutputStore, *, now: float, older_than_s: float
) -> list[Path]:
    """Delete staging files last modified more than ``older_than_s`` before ``now``; the
    files deleted."""
    removed: list[Path] = []
    for path, modified_at in await store.staged_files():
        if now - modified_at > older_than_s:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            removed.append(path)
    return removed
