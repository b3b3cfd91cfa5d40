"""Kept outputs: the finished videos, copied from the upstream's dying links into an object
store the gateway serves them from.

The public face (the rest of the gateway imports from here):

- :class:`OutputStore` (``store.py``) — put (atomic publish), head, delete, list, byte ranges,
  presigned GETs, over obstore; :func:`open_output_store` builds it from settings, and
  :func:`configuration_problems` / :func:`unsafe_for_replicas` say when a configuration must
  not start (``setup.py``).
- :class:`Copier` (``copy.py``) — ``copy_video(url, job_id=…)`` → :class:`KeptVideo` or
  :class:`KeepFailure`; ``copier.slots`` (:class:`CopySlots`) caps copies in flight.
- :func:`serve_kept_object` (``serving.py``) — the answer for a verified download request.
- :func:`remove_stale_staging` and :data:`S3_LIFECYCLE` (``sweep.py``) — orphans after a crash.

The pure parts live in ``gateway.domain``: ``containers`` (sniffing), ``outputs`` (failure
reasons, link expiry, keys, the retry decision), ``output_links`` (signed links) and
``byte_ranges`` (``Range`` requests).
"""

from gateway.outputs.copy import Copier, KeepFailure, KeptVideo
from gateway.outputs.serving import ObjectMissing, OutputAnswer, serve_kept_object
from gateway.outputs.setup import (
    configuration_problems,
    local_store_dir,
    open_output_store,
    unsafe_for_replicas,
)
from gateway.outputs.slots import CopySlots
from gateway.outputs.source import SourceClient, SourceFailure
from gateway.outputs.store import OutputStore, StoredObject, StoreError
from gateway.outputs.sweep import S3_LIFECYCLE, remove_stale_staging, stale_after_s

__all__ = [
    "S3_LIFECYCLE",
    "Copier",
    "CopySlots",
    "KeepFailure",
    "KeptVideo",
    "ObjectMissing",
    "OutputAnswer",
    "OutputStore",
    "SourceClient",
    "SourceFailure",
    "StoreError",
    "StoredObject",
    "configuration_problems",
    "local_store_dir",
    "open_output_store",
    "remove_stale_staging",
    "serve_kept_object",
    "stale_after_s",
    "unsafe_for_replicas",
]
