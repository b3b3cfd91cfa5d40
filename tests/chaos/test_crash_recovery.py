"""Crash anywhere: SIGKILL the gateway at random moments and restart it on the same database.

Every accepted job reaches its terminal webhook; none is lost; an event is received again only
under its own webhook-id; no job is submitted upstream twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.harness import run_chaos

pytestmark = pytest.mark.slow


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    """Small by default (CI); CHAOS_JOBS / CHAOS_KILLS / CHAOS_SEED make it larger by hand."""
    report = run_chaos(
        tmp_path,
        jobs=int(os.environ.get("CHAOS_JOBS", "16")),
        kills=int(os.environ.get("CHAOS_KILLS", "4")),
        seed=int(os.environ.get("CHAOS_SEED", "1")),
    )
    print(f"\nchaos: {report}")
    assert (0, 0, 0) == (
        report.lost,
        report.double_submissions,
        report.jobs_with_two_terminal_events,
    ), str(report)
    assert report.jobs == report.completed + report.failed_outcome_unknown, str(report)
