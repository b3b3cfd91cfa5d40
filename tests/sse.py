"""Reading a job's event stream (Server-Sent Events) in tests, one connection at a time."""

from __future__ import annotations

import json
from typing import Any

import httpx


def read_events(
    url: str,
    job_id: str,
    auth: dict[str, str],
    *,
    last_event_id: int | None = None,
    stop_after: int | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Events of one connection, and whether the server ended the stream itself."""
    headers = {**auth, "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events: list[dict[str, Any]] = []
    fields: dict[str, str] = {}
    with httpx.stream(
        "GET", f"{url}/v1/jobs/{job_id}/events", headers=headers, timeout=30
    ) as response:
        assert 200 == response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line == "":
                if "data" in fields and "id" in fields:
                    event = json.loads(fields["data"])
                    assert (int(fields["id"]), fields["event"]) == (event["id"], event["kind"])
                    events.append(event)
                    if stop_after is not None and len(events) >= stop_after:
                        return events, False  # the client hangs up mid-stream
                fields = {}
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    return events, True
