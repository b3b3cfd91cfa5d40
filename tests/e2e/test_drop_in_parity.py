"""The mock's contract, asked of the drop-in /v2 too: the same request sequence, sent to the mock
directly and to the gateway in front of it, gets the same answers up to ids and timings.

Compared: status codes, media types, the shape of every body (keys and value types, recursively),
statuses, the X-Client-Request-Id echo and x-inference-id headers, and messages — the 401's only
up to its first sentence ("This request requires a valid API key."), because the upstream's advice
to create a key on its Billing page is replaced by the gateway's (its keys come from the
gateway's operator).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEY, World

PATH = "/v2/video/generations"
VALID = {
    "model": "alibaba/happyhorse-1-0",
    "prompt": "Mona Lisa puts on glasses with her hands.",
    "image_url": "https://example.com/mona_lisa.jpg",
    "duration": 7,
}
INVALID = {**VALID, "duration": 20}
VIDEO_FILE = re.compile(r"/files/[^/?]+\.mp4(\?\S*)?$")  # the mock signs its links


@dataclass
class Target:
    """One side of the comparison: how to call it and how to let time pass for it."""

    name: str
    call: Callable[..., Awaitable[httpx.Response]]
    key: str
    wait: Callable[[], Awaitable[None]]

    async def submit(self, body: dict[str, Any]) -> httpx.Response:
        return await self.call("POST", PATH, json=body, headers=self.auth())

    async def poll(self, generation_id: str, *, auth: bool = True) -> httpx.Response:
        headers = self.auth() if auth else {}
        return await self.call(
            "GET", PATH, params={"generation_id": generation_id}, headers=headers
        )

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Client-Request-Id": "caller.42"}


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what a client's code depends on."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    return "number" if isinstance(value, int | float) else type(value).__name__


def first_sentence(message: str) -> str:
    return message.split(". ", 1)[0]


def summary(response: httpx.Response) -> dict[str, Any]:
    """What must match between the two, ids and times left out."""
    body = response.json()
    out: dict[str, Any] = {
        "status_code": response.status_code,
        "media_type": response.headers["content-type"].split(";")[0],
        "shape": shape(body),
        "echoed_request_id": response.headers.get("x-client-request-id"),
        "has_inference_id": "x-inference-id" in response.headers,
    }
    if "message" in body:
        out["message"] = (
            first_sentence(body["message"]) if response.status_code == 401 else body["message"]
        )
        out["statusCode"] = body["statusCode"]
        out["path"] = body["path"]
        out["error_paths"] = [e["path"] for e in body.get("errors", [])]
    if "status" in body:
        out["status"] = body["status"]
    if "video" in body:
        out["video"] = VIDEO_FILE.sub("/files/<id>.mp4", body["video"]["url"])
    if "meta" in body:
        out["meta"] = body["meta"]
    return out


async def submit_valid(target: Target) -> list[dict[str, Any]]:
    return [summary(await target.submit(VALID))]


async def submit_invalid(target: Target) -> list[dict[str, Any]]:
    return [summary(await target.submit(INVALID))]


async def poll_unknown(target: Target) -> list[dict[str, Any]]:
    return [summary(await target.poll("no-such-generation"))]


async def poll_without_auth(target: Target) -> list[dict[str, Any]]:
    generation_id = (await target.submit(VALID)).json()["id"]
    return [summary(await target.poll(generation_id, auth=False))]


async def poll_until_completed(target: Target) -> list[dict[str, Any]]:
    """Submit, then poll as the seed's example does; each distinct answer once, in order."""
    generation_id = (await target.submit(VALID)).json()["id"]
    seen: list[dict[str, Any]] = []
    for _ in range(60):
        answer = summary(await target.poll(generation_id))
        if answer not in seen:
            seen.append(answer)
        if answer["status"] not in ("queued", "generating"):
            return seen
        await target.wait()
    raise AssertionError(f"{target.name}: not finished after 60 polls: {seen}")


SEQUENCE = [submit_valid, submit_invalid, poll_unknown, poll_without_auth, poll_until_completed]


def targets(world: World) -> tuple[Target, Target]:
    mock_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.mock), base_url="http://mock.test"
    )

    async def mock_wait() -> None:
        world.clock.advance(1.0)

    async def gateway_wait() -> None:
        await world.settle(1.0)

    mock = Target("mock", mock_http.request, "upstream-key", mock_wait)
    gateway = Target("gateway", world.http.request, KEY, gateway_wait)
    return mock, gateway


@pytest.mark.parametrize("step", SEQUENCE, ids=lambda step: step.__name__)
async def test_the_gateway_answers_as_the_mock_does(
    world: World, step: Callable[[Target], Awaitable[list[dict[str, Any]]]]
) -> None:
    """Each step of the sequence, sent to the mock and to the gateway, gets the same answers."""
    mock, gateway = targets(world)
    from_mock = await step(mock)
    from_gateway = await step(gateway)
    assert from_mock == from_gateway
    assert from_mock  # and the step did see something


async def test_the_sequence_ends_completed_with_the_mocks_video(world: World) -> None:
    """The full sequence's last answers through the gateway: queued, generating, completed with
    the mock's video URL and usage, the upstream body the strict mock accepted."""
    _, gateway = targets(world)
    answers = await poll_until_completed(gateway)
    assert ["queued", "generating", "completed"] == [a["status"] for a in answers]
    assert "http://mock.test/files/<id>.mp4" == answers[-1]["video"]
    world.journal.assert_no_violations()
