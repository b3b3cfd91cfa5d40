"""Secrets never leak: a full run, error paths included, with production logging captured;
then the logs, every response body, the OpenAPI document and the mock's journal are searched."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import structlog
from litestar.testing import AsyncTestClient

from gateway.domain.upstream import FailureKind, Generation
from gateway.observability.logging import configure_logging
from gateway.store import Store
from gateway.testing.fakes import Clock, RecordingSender, ScriptedUpstream, failure
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from tests.http.conftest import (
    ADMIN_KEY,
    BOOTSTRAP_KEY,
    BOOTSTRAP_SECRET,
    api_settings,
    gateway_app,
)


def _forms(secret: str) -> list[str]:
    """A secret and the parts a careless log line might show (the base64 of a whsec_)."""
    forms = [secret]
    if secret.startswith("whsec_"):
        forms.append(secret.removeprefix("whsec_"))
        forms.append(base64.b64decode(secret.removeprefix("whsec_")).hex())
    return forms


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """This test configures logging onto pytest's captured stream; later tests must not write
    to that stream once it is closed."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
async def test_no_secret_in_logs_bodies_or_openapi(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Accept, submit, poll, deliver, fail every way we can; no secret appears anywhere."""
    settings = api_settings(tmp_path, log_level="DEBUG")
    configure_logging(
        log_format="json",
        level="DEBUG",
        secrets=[settings.aimlapi_key, BOOTSTRAP_KEY, ADMIN_KEY, BOOTSTRAP_SECRET],
    )
    clock = Clock(start=1_800_000_000.0)
    store = await Store.open(settings.database_url)
    upstream = ScriptedUpstream(
        submits=[
            failure(
                FailureKind.REJECTED,
                401,
                error={"message": "This request requires a valid API key."},
            ),
            failure(FailureKind.UNKNOWN, 500),
        ],
        polls=[
            failure(FailureKind.UNKNOWN, 502),
            Generation(id="g", status="completed", video_url="https://v"),
        ],
    )
    sender = RecordingSender([500, None])
    app = gateway_app(settings, store, upstream, sender, clock)
    bodies: list[str] = []
    secrets = [settings.aimlapi_key, BOOTSTRAP_KEY, ADMIN_KEY, BOOTSTRAP_SECRET]
    try:
        async with AsyncTestClient(app=app) as http:
            auth = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            created = await http.post("/v1/admin/clients", json={"name": "other"}, headers=admin)
            other = created.json()
            secrets += [other["api_key"], other["webhook_secret"]]
            rotated = await http.post(
                f"/v1/admin/clients/{other['id']}/rotate-secret", headers=admin
            )
            secrets.append(rotated.json()["webhook_secret"])
            responses = [
                await http.post(
                    "/v1/jobs",
                    json={"prompt": "p"},
                    headers={"Authorization": "Bearer wrong-key-123456"},
                ),
                await http.post("/v1/jobs", json={"prompt": "p", "duration": 99}, headers=auth),
                await http.post(
                    "/v1/jobs",
                    content=b"{oops",
                    headers={**auth, "Content-Type": "application/json"},
                ),
                await http.get("/v1/admin/clients", headers=auth),
                await http.get("/v1/admin/clients", headers=admin),
                await http.post(f"/v1/admin/clients/{other['id']}/revoke", headers=admin),
                await http.get("/schema/openapi.json"),
            ]
            for _ in range(3):
                responses.append(
                    await http.post(
                        "/v1/jobs",
                        json={"prompt": "p", "callback_url": "https://h.test/x"},
                        headers=auth,
                    )
                )
            worker = app.state.gateway.worker
            for _ in range(6):
                await worker.run_until_idle()
                clock.advance(20)
            for job in (await http.get("/v1/jobs", headers=auth)).json()["data"]:
                responses.append(await http.get(f"/v1/jobs/{job['id']}", headers=auth))
                responses.append(await http.get(f"/v1/jobs/{job['id']}/deliveries", headers=auth))
            responses.append(await http.get("/metrics"))
            bodies = [r.text for r in responses]
    finally:
        await store.close()
        logging.getLogger().handlers.clear()
    logs = "".join(capfd.readouterr())
    assert "http_request" in logs  # the capture really holds the run's logs
    assert "submission_failed" in logs
    everything = logs + "\n".join(bodies)
    leaked = [s for secret in secrets for s in _forms(secret) if s in everything]
    where = [everything[max(0, everything.find(s) - 300) : everything.find(s) + 60] for s in leaked]
    assert [] == leaked, where


def test_mock_journal_never_holds_the_key() -> None:
    """The mock records requests for tests to inspect, but never the Authorization value."""
    app = create_mock(MockConfig.fast())

    async def run() -> str:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://mock"
        ) as http:
            await http.post(
                "/v2/video/generations",
                json={"model": "alibaba/happyhorse-1-0", "prompt": "p"},
                headers={"Authorization": "Bearer sk-live-very-secret"},
            )
            await http.get(
                "/v2/video/generations",
                params={"generation_id": "x"},
                headers={"Authorization": "Bearer sk-live-very-secret"},
            )
            return (await http.get("/__mock/requests")).text

    journal = asyncio.run(run())
    assert "sk-live-very-secret" not in journal
    assert "[redacted]" in journal


@pytest.mark.usefixtures("restore_logging")
async def test_library_exceptions_are_scrubbed_and_sql_errors_quote_no_values(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A standard-library logger (APScheduler's) logging an exception whose text holds a secret
    prints it masked; a database error's text never quotes the statement's parameters."""
    secret = "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw=="
    configure_logging(log_format="json", level="INFO", secrets=[secret])
    try:
        raise RuntimeError(f"startup failed with {secret}")
    except RuntimeError:
        logging.getLogger("apscheduler.executors.default").exception("Job raised")
    store = await Store.open(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        # The engine itself: the store's write() would turn this error into a 503.
        async with store.db.engine.begin() as conn:
            await conn.execute(
                sa.text("INSERT INTO no_such_table (secret) VALUES (:v)"), {"v": secret}
            )
    except sa.exc.OperationalError as exc:
        database_error = str(exc)
    finally:
        await store.close()
    logs = "".join(capfd.readouterr())
    assert "startup failed with" in logs  # the traceback text is there …
    assert secret not in logs  # … masked
    assert "no_such_table" in database_error
    assert secret not in database_error
