"""What ``gateway submit`` and ``gateway jobs`` show people: a live progress display while a job
runs (rich), a table of jobs, one job in detail."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from gateway_client import DeliveryLog, Job


def _since(job: Job) -> float | None:
    """When the job's clock started: its submission upstream, else its acceptance."""
    moment = job.submitted_at or job.created_at
    return None if moment is None else moment.timestamp()


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value // 60:.0f} min {value % 60:02.0f} s"


class _Elapsed(ProgressColumn):
    """Elapsed time against the expected duration, ticking between polls."""

    def render(self, task: Task) -> RenderableType:
        since: float | None = task.fields.get("since")
        expected: float | None = task.fields.get("expected")
        if since is None:
            return Text("")
        elapsed = max(0.0, (task.fields.get("ended") or time.time()) - since)
        if expected is None:
            return Text(_seconds(elapsed))
        return Text(f"{_seconds(elapsed)} of ~{_seconds(expected)} expected")


class _Bar(ProgressColumn):
    """Filled as elapsed time approaches the expected duration; pulsing when none is known."""

    def render(self, task: Task) -> RenderableType:
        since: float | None = task.fields.get("since")
        expected: float | None = task.fields.get("expected")
        if task.fields.get("ended"):
            return ProgressBar(total=1, completed=1, width=30)
        if since is None or not expected:
            return ProgressBar(total=None, width=30, pulse=True, animation_time=time.monotonic())
        elapsed = max(0.0, time.time() - since)
        return ProgressBar(total=expected, completed=min(elapsed, expected * 0.99), width=30)


def follow(console: Console, states: Iterable[Job]) -> Iterator[Job]:
    """Pass ``states`` through while showing the job's status, elapsed time and expected
    duration live; the display stays on screen with the final state."""
    columns: list[ProgressColumn] = [
        SpinnerColumn(finished_text="•"),
        TextColumn("{task.description}"),
        TextColumn("[bold]{task.fields[status]}"),
        _Bar(),
        _Elapsed(),
    ]
    with Progress(*columns, console=console, refresh_per_second=8) as progress:
        task = None
        for job in states:
            fields: dict[str, Any] = {
                "status": job.status,
                "since": _since(job),
                "expected": job.expected_duration_s,
                "ended": job.finished_at.timestamp() if job.finished_at else None,
            }
            if task is None:
                task = progress.add_task(job.id, total=None, **fields)
            else:
                progress.update(task, **fields)
            if job.finished:
                progress.update(task, total=1, completed=1)
            yield job


def outcome(job: Job) -> str:
    """The last line about a finished (or abandoned) job."""
    if job.status == "completed":
        took = ""
        if job.finished_at and (since := _since(job)) is not None:
            took = f" in {_seconds(job.finished_at.timestamp() - since)}"
        return f"{job.id} completed{took}: {job.video_url}"
    if job.error is not None:
        return f"{job.id} {job.status}: {job.error.code}: {job.error.message}"
    return f"{job.id} {job.status}"


def jobs_table(jobs: list[Job]) -> Table:
    table = Table(box=None)
    table.add_column("id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("model", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("video / error", overflow="fold", min_width=20)
    for job in jobs:
        created = job.created_at.strftime("%m-%d %H:%M:%S") if job.created_at else ""
        result = job.video_url or (job.error.code if job.error else "")
        table.add_row(job.id, job.status, created, job.model, result)
    return table


def job_details(job: Job, log: DeliveryLog) -> Table:
    table = Table(show_header=False, box=None)
    rows: list[tuple[str, object]] = [
        ("id", job.id),
        ("status", job.status),
        ("model", job.model),
        ("created", job.created_at),
        ("submitted", job.submitted_at),
        ("finished", job.finished_at),
        ("expected duration", job.expected_duration_s and _seconds(job.expected_duration_s)),
        ("generation id", job.generation_id),
        ("video", job.video_url),
        ("error", job.error and f"{job.error.code}: {job.error.message}"),
        ("callback", job.callback_url),
        ("metadata", job.metadata or None),
        ("request", job.request),
    ]
    for name, value in rows:
        if value in (None, "", {}):
            continue
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%d %H:%M:%S UTC")
        elif isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
        table.add_row(name, str(value))
    for event in log.events:
        table.add_row(
            "webhook",
            f"{event.event_type} {event.event_id}: {event.state}, {event.attempts} attempt(s)"
            + (f", last {event.last_status_code or event.last_error}" if event.attempts else ""),
        )
    return table
