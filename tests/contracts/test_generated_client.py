"""A Python client generated from the live OpenAPI document by ``openapi-python-client`` works
against a live gateway: create a job, fetch it, list jobs, read its deliveries. No network: the
generator runs offline, and the gateway, the mock upstream and the receiver are on loopback."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from gateway.testing import CLIENT_KEY as KEY
from gateway.testing import live_stack
from gateway.testing.waiting import wait_for

PACKAGE = "generated_gateway_client"

pytestmark = pytest.mark.slow


def _generate(settings: Settings, target: Path) -> Any:
    """Generate the client package from the app's document into ``target`` and import it."""
    document = create_app(settings, run_worker=False).openapi_schema.to_schema()
    target.mkdir()
    spec = target / "openapi.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)  # the generator formats its output with ruff
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    subprocess.run(  # noqa: S603 (our own interpreter, a fixed argument list)
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(target / PACKAGE),
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(target))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(target))


def test_a_generated_client_creates_fetches_lists_and_reads_deliveries(tmp_path: Path) -> None:
    with live_stack(tmp_path / "live.db") as live:
        client_pkg = _generate(live.settings, tmp_path / "generated")
        create_job = importlib.import_module(f"{PACKAGE}.api.jobs.create_job")
        get_job = importlib.import_module(f"{PACKAGE}.api.jobs.get_job")
        list_jobs = importlib.import_module(f"{PACKAGE}.api.jobs.list_jobs")
        deliveries = importlib.import_module(f"{PACKAGE}.api.jobs.list_job_deliveries")
        models = importlib.import_module(f"{PACKAGE}.models")

        # the generated client closes its httpx connections when its context ends
        with client_pkg.AuthenticatedClient(base_url=live.url, token=KEY) as client:
            body = models.CreateJobJsonJobRequest.from_dict(
                {
                    "prompt": "a horse",
                    "duration": 5,
                    "callback_url": live.hook_url,
                    "metadata": {"order_id": "42"},
                }
            )
            created = create_job.sync_detailed(
                client=client, body=body, idempotency_key="generated-1"
            )
            assert 202 == created.status_code, created.content
            job = created.parsed
            assert isinstance(job, models.JobView)
            assert models.JobStatus.ACCEPTED == job.status

            def finished() -> Any:
                fetched = get_job.sync(job.id, client=client)
                assert isinstance(fetched, models.JobView)
                delivered = fetched.delivery and fetched.delivery.state.value == "delivered"
                return fetched if delivered else None

            fetched = wait_for(finished, timeout_s=30, what="the job's webhook to be delivered")
            assert models.JobStatus.COMPLETED == fetched.status
            assert fetched.video_url
            assert "42" == fetched.metadata["order_id"]

            page = list_jobs.sync(client=client, status=models.JobStatus.COMPLETED, limit=10)
            assert isinstance(page, models.JobPage)
            assert [job.id] == [listed.id for listed in page.data]

            log = deliveries.sync(job.id, client=client)
            assert isinstance(log, models.DeliveryLog)
            assert ["video.generation.completed"] == [e.event_type.value for e in log.events]
            assert [200] == [a.status_code for a in log.attempts]
            assert live.receiver.ids() == [e.event_id for e in log.events]

            subscribe = importlib.import_module(f"{PACKAGE}.api.subscriptions.create_subscription")
            subscribed = subscribe.sync_detailed(
                client=client,
                body=models.CreateSubscriptionJsonNewSubscription(target_url=live.hook_url),
            )
            assert 201 == subscribed.status_code, subscribed.content

            missing = get_job.sync_detailed("job_unknown", client=client)
            assert 404 == missing.status_code
            assert isinstance(missing.parsed, models.ErrorResponse)
            assert "not_found" == missing.parsed.error.code


def test_the_generated_client_has_typed_job_fields_and_readable_names(tmp_path: Path) -> None:
    """The fields most models take are attributes of the job body with their types (not keys
    of a dict), the rest still pass through; operations are named by their ids."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'doc.db'}")
    _generate(settings, tmp_path / "generated")
    models = importlib.import_module(f"{PACKAGE}.models")
    body_class = models.CreateJobJsonJobRequest
    fields = attrs.fields_dict(body_class)  # annotations as written (the module defers them)
    # Typed, and as leniently as the gateway reads them: null or blank is "not given", a
    # number may come as text.
    assert ("int | None | str | Unset", "None | str | Unset") == (
        fields["duration"].type,
        fields["resolution"].type,
    )
    body = body_class(prompt="a horse", duration=5, resolution="720p")
    body["seed"] = 7  # a field only some models take: open
    sent = body.to_dict()
    assert (5, "720p", 7) == (sent["duration"], sent["resolution"], sent["seed"])
    read = body_class.from_dict({"prompt": "p", "duration": 8, "camera_control": "pan"})
    assert (8, {"camera_control": "pan"}) == (read.duration, read.additional_properties)
    for module in (
        "api.models.list_models",
        "api.models.get_model",
        "api.drop_in_upstream_api.create_video_generation",
        "api.drop_in_upstream_api.get_video_generation",
        "api.subscriptions.create_subscription",
    ):
        importlib.import_module(f"{PACKAGE}.{module}")
