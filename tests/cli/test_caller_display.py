"""The progress display: status, elapsed time against the expected duration, the outcome."""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from gateway.caller.display import follow, outcome
from gateway_client import Job


def job(status: str, **fields: Any) -> Job:
    return Job.from_json({"id": "job_1", "status": status, "model": "m", **fields})


def stamp(seconds_ago: float) -> str:
    return datetime.fromtimestamp(time.time() - seconds_ago, UTC).isoformat()


def test_the_display_shows_elapsed_time_against_the_expected_duration() -> None:
    """While the job runs, the line reads "<status> … N s of ~40 s expected"."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    running = job("generating", submitted_at=stamp(10), expected_duration_s=40.0)
    seen = list(follow(console, [job("queued", submitted_at=stamp(10)), running]))
    assert ["queued", "generating"] == [j.status for j in seen]
    assert re.search(r"job_1 generating .* 1[01] s of ~40 s expected", buffer.getvalue())


def test_the_outcome_line() -> None:
    done = job(
        "completed",
        submitted_at=stamp(65),
        finished_at=stamp(0),
        video_url="https://v.test/1.mp4",
    )
    failed = job("failed", error={"code": "deadline_exceeded", "message": "too slow"})
    assert [
        "job_1 completed in 65 s: https://v.test/1.mp4",
        "job_1 failed: deadline_exceeded: too slow",
    ] == [outcome(done), outcome(failed)]
