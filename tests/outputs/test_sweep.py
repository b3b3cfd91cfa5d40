"""What a crash leaves: staging files are removed once untouched for longer than any live
copy could leave them; the S3 lifecycle rule for incomplete multipart uploads is shipped."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gateway.outputs import S3_LIFECYCLE, open_output_store, remove_stale_staging, stale_after_s
from tests.outputs.conftest import local_settings

DEPLOY = Path(__file__).parents[2] / "deploy"


async def test_only_stale_staging_files_are_removed(tmp_path: Path) -> None:
    store = open_output_store(local_settings(tmp_path / "outputs"))
    old, fresh = store.new_staging_path("old"), store.new_staging_path("fresh")
    other = store.staging_dir / "not-a-staging-file.txt"
    for path in (old, fresh, other):
        path.write_bytes(b"x")
    now = 1_000_000_000.0
    os.utime(old, (now - 7200, now - 7200))
    os.utime(fresh, (now - 60, now - 60))
    os.utime(other, (now - 7200, now - 7200))
    removed = await remove_stale_staging(store, now=now, older_than_s=3600)
    assert ([old], False, True, True) == (removed, old.exists(), fresh.exists(), other.exists())


def test_stale_means_longer_than_a_copy_can_take() -> None:
    assert 3600 + 600 == stale_after_s(copy_timeout_s=3600, read_timeout_s=60)


def test_the_lifecycle_rule_file_is_the_documented_rule() -> None:
    rule = json.loads((DEPLOY / "s3-lifecycle.json").read_text())
    assert S3_LIFECYCLE == rule
    assert {"DaysAfterInitiation": 1} == rule["Rules"][0]["AbortIncompleteMultipartUpload"]
