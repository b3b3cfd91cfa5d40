"""The download is guarded like a callback, with its own allow-list: every redirect hop is
judged again, and the callbacks' allow-list never opens an address to downloads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.domain.outputs import KeepFailureReason
from gateway.outputs import Copier, KeepFailure, open_output_store
from tests.delivery.receiver import Receiver, answer
from tests.outputs.conftest import Mock, local_settings


class Target:
    """A server on 127.0.0.2 (loopback, but outside the 127.0.0.1/32 allow-list) that counts
    the connections it gets: a refused hop must never reach it."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> Target:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self._server = await asyncio.start_server(handle, "127.0.0.2", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    server = await Target().start()
    yield server
    await server.close()


@pytest.fixture
async def copier(tmp_path: Path) -> AsyncIterator[Copier]:
    settings = local_settings(tmp_path / "outputs")
    copier = Copier.from_settings(settings, open_output_store(settings))
    yield copier
    await copier.aclose()


async def redirecting_to(location: str) -> Receiver:
    return await Receiver(answer(302, headers=[("location", location)])).start()


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.2:{port}/video.mp4",  # reachable loopback, but not allow-listed
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.7/video.mp4",
        "http://localhost:{port}/video.mp4",
        "http://[::ffff:127.0.0.2]:{port}/video.mp4",
        "file:///etc/passwd",
        "http://user:pass@example.com/video.mp4",
    ],
)
async def test_a_redirect_to_a_blocked_address_is_refused(
    copier: Copier, target: Target, location: str
) -> None:
    origin = await redirecting_to(location.format(port=target.port))
    try:
        result = await copier.copy_video(origin.url(path="/v.mp4"), job_id="job_1")
    finally:
        await origin.close()
    assert isinstance(result, KeepFailure)
    assert (KeepFailureReason.BLOCKED_SOURCE, False) == (result.reason, result.transient)
    assert (1, 0) == (len(origin.requests), target.connections)  # the hop never connected


async def test_the_first_url_is_judged_too(copier: Copier, target: Target) -> None:
    result = await copier.copy_video(f"http://127.0.0.2:{target.port}/v.mp4", job_id="job_1")
    assert isinstance(result, KeepFailure)
    assert (KeepFailureReason.BLOCKED_SOURCE, 0) == (result.reason, target.connections)


async def test_the_callback_allow_list_does_not_open_downloads(tmp_path: Path, mock: Mock) -> None:
    """An operator who opened loopback to callbacks has not opened it to downloads."""
    settings = local_settings(tmp_path / "outputs").with_(
        callback_allowlist=("127.0.0.0/8", "localhost"), output_source_allowlist=()
    )
    copier = Copier.from_settings(settings, open_output_store(settings))
    try:
        result = await copier.copy_video(await mock.video_url(), job_id="job_1")
    finally:
        await copier.aclose()
    assert isinstance(result, KeepFailure)
    assert KeepFailureReason.BLOCKED_SOURCE == result.reason
    assert "127.0.0.1" in result.message


async def test_its_own_allow_list_opens_downloads(copier: Copier, mock: Mock) -> None:
    result = await copier.copy_video(await mock.video_url(), job_id="job_1")
    assert not isinstance(result, KeepFailure), result
