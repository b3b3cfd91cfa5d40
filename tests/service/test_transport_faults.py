"""Submissions through the real upstream client and transport, against the mock on a socket.

The worker, not just the client, must never pay twice: a connection reset or a truncated answer
after the POST left fails the job as ``submission_outcome_unknown`` with exactly one POST in the
mock's journal; a refused connection (nothing sent) is retried and the job goes on.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.domain.jobs import JobStatus
from gateway.upstream.client import UpstreamClient
from mock_upstream.app import create_app
from mock_upstream.config import MockConfig
from mock_upstream.testing import Journal, MockServer, free_port
from tests.harness import Harness

KEY = "upstream-key"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def mock_app() -> object:
    return create_app(MockConfig.fast(expected_key=KEY))


@pytest.fixture
async def real_upstream(harness: Harness, port: int) -> AsyncIterator[Harness]:
    """The harness with the gateway's own UpstreamClient pointed at 127.0.0.1:``port``."""
    client = UpstreamClient(f"http://127.0.0.1:{port}", KEY)
    harness.runtime.upstream = client
    yield harness
    await client.aclose()


@pytest.fixture
def serving(mock_app: object, port: int) -> Iterator[Journal]:
    with MockServer(mock_app, port=port):
        yield Journal(mock_app)  # type: ignore[arg-type]


@pytest.mark.parametrize("scenario", ["reset", "truncated_json"])
async def test_a_fault_after_the_post_fails_the_job_without_a_second_submission(
    real_upstream: Harness, serving: Journal, scenario: str
) -> None:
    harness = real_upstream
    job = await harness.accept(prompt=f"a horse [mock:{scenario}]")
    await harness.run()
    await harness.run(advance_s=600)  # well past any retry the job could have scheduled
    failed = await harness.job(job.id)
    assert (JobStatus.FAILED, "submission_outcome_unknown") == (
        failed.status,
        failed.error and failed.error["code"],
    )
    assert [scenario] == [s["status"] for s in serving.submissions()]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_a_post_read_then_dropped_without_an_answer_is_sent_once(
    real_upstream: Harness, port: int, reset: bool
) -> None:
    """A server that reads the whole POST and closes (or resets) before answering: the job
    fails as unknown and the server saw one POST, however long the worker runs afterwards."""
    harness = real_upstream
    posts: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        posts.append(head)
        if reset:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        job = await harness.accept()
        await harness.run()
        for _ in range(3):
            await harness.run(advance_s=600)
    finally:
        server.close()
    failed = await harness.job(job.id)
    assert (JobStatus.FAILED, "submission_outcome_unknown", 1) == (
        failed.status,
        failed.error and failed.error["code"],
        len(posts),
    )
    assert posts[0].startswith(b"POST /v2/video/generations ")


async def test_a_refused_connection_is_retried_and_the_job_goes_on(
    real_upstream: Harness, mock_app: object, port: int
) -> None:
    harness = real_upstream
    job = await harness.accept()
    await harness.run()  # nothing listens on the port yet: refused, nothing sent
    waiting = await harness.job(job.id)
    assert (JobStatus.ACCEPTED, 1) == (waiting.status, waiting.submit_attempts)
    with MockServer(mock_app, port=port):
        await harness.run(advance_s=600)
        journal = Journal(mock_app)  # type: ignore[arg-type]
        submitted = await harness.job(job.id)
        assert (JobStatus.QUEUED, 2) == (submitted.status, submitted.submit_attempts)
        assert [200] == [s["status"] for s in journal.submissions()]
        assert submitted.generation_id == journal.submissions()[0]["generation_id"]
