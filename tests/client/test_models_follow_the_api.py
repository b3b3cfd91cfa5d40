"""The client's objects hold every field the API answers: a field added to the job view (and so
to the committed OpenAPI document, which a test keeps equal to the served one) fails here until
``gateway_client`` has it too — not an ``AttributeError`` in a caller's code, the value only in
``.raw``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from gateway_client import Attempt, Delivery, DeliveryLog, Job, JobError

DOCUMENT = Path(__file__).parents[2] / "contracts" / "gateway.openapi.json"

# Each schema of the API's document, and the client class that reads it.
READ_BY = {
    "JobView": Job,
    "JobErrorView": JobError,
    "DeliveryView": Delivery,
    "AttemptView": Attempt,
    "DeliveryLog": DeliveryLog,
}


def _properties(schema: str) -> set[str]:
    document = json.loads(DOCUMENT.read_text())
    return set(document["components"]["schemas"][schema]["properties"])


@pytest.mark.parametrize(("schema", "cls"), READ_BY.items())
def test_every_field_of_the_api_is_a_field_of_the_client(schema: str, cls: type[Any]) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set() == _properties(schema) - fields


def test_a_job_reads_every_field_it_is_given() -> None:
    """The new fields are read from the answer, not left at their defaults."""
    job = Job.from_json(
        {
            "id": "job_1",
            "status": "generating",
            "model": "someone/new-model",
            "created_at": "2026-01-31T12:00:00.000Z",
            "updated_at": "2026-01-31T12:00:05.000Z",
            "request": {"prompt": "p"},
            "metadata": {},
            "events": ["generating", "completed"],
            "body_checked": False,
            "upstream_status": "processing",
        }
    )
    assert (["generating", "completed"], False, "processing") == (
        job.events,
        job.body_checked,
        job.upstream_status,
    )


def test_an_older_gateways_answer_still_reads() -> None:
    """A gateway that does not send the new fields: the defaults the API documents."""
    job = Job.from_json({"id": "job_1", "status": "accepted", "model": "m"})
    assert ([], True, None) == (job.events, job.body_checked, job.upstream_status)
