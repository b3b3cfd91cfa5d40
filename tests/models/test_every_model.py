"""Every catalogue model, two implementations: the gateway's compiled rules and the strict mock's
JSON Schema validator (jsonschema over the same catalogue) accept the smallest valid body and
refuse a body breaking one declared rule, naming the same field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.catalogue import load_catalogue
from gateway.domain.catalogue import ModelSpec
from gateway.domain.generation import CheckedJob, check_job
from gateway.domain.model_rules import Rulebook
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import FakeClock
from tests.models.bodies import broken_bodies, models, smallest_body

RULES = Rulebook(load_catalogue())
MODELS = models()
BROKEN = [(model, *case) for model in MODELS for case in broken_bodies(model)]


@pytest.fixture(scope="module")
def mock_app() -> Any:
    return create_mock(MockConfig.fast(strict=True))


@pytest.fixture
async def mock(mock_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mock_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://mock.test", headers={"Authorization": "Bearer k"}
    ) as client:
        yield client


def test_the_catalogue_has_every_model_and_each_has_a_rule_to_break() -> None:
    """141 models; every one has at least one enum, range or required field to break."""
    assert len(MODELS) >= 141
    assert {m.id for m in MODELS} == {model.id for model, *_ in BROKEN}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
async def test_the_smallest_valid_body_is_accepted_by_both(
    model: ModelSpec, mock: httpx.AsyncClient
) -> None:
    """The gateway accepts it and the strict mock accepts what the gateway would send."""
    job = check_job(RULES, smallest_body(model), metadata_max_bytes=2048)
    assert isinstance(job, CheckedJob), job
    response = await mock.post("/v2/video/generations", json=job.body)
    assert 200 == response.status_code, response.text


@pytest.mark.parametrize(
    ("model", "rule", "field", "body"),
    BROKEN,
    ids=[f"{m.id}-{rule}-{field}" for m, rule, field, _ in BROKEN],
)
async def test_a_body_breaking_one_rule_is_refused_by_both_naming_the_field(
    model: ModelSpec, rule: str, field: str, body: dict[str, Any], mock: httpx.AsyncClient
) -> None:
    """A value outside an enum, a number out of range, a missing required field."""
    result = check_job(RULES, body, metadata_max_bytes=2048)
    assert isinstance(result, list), f"the gateway accepted {body}"
    assert [field] == [b.field for b in result]
    response = await mock.post("/v2/video/generations", json=body)
    assert 400 == response.status_code, response.text
    assert [field] == sorted({e["path"] for e in response.json()["errors"]})


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
async def test_scenarios_work_for_every_model(model: ModelSpec) -> None:
    """A scenario chosen by header (models without a prompt cannot carry a tag) drives any
    model's job: here it ends in `error`, with the fast timings."""
    clock = FakeClock()
    app = create_mock(MockConfig.fast(strict=True, clock=clock))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://mock.test",
        headers={"Authorization": "Bearer k"},
    ) as client:
        job = check_job(RULES, smallest_body(model), metadata_max_bytes=2048)
        assert isinstance(job, CheckedJob)
        submitted = await client.post(
            "/v2/video/generations", json=job.body, headers={"X-Mock-Scenario": "job_error"}
        )
        assert 200 == submitted.status_code, submitted.text
        clock.advance(10)
        polled = await client.get(
            "/v2/video/generations", params={"generation_id": submitted.json()["id"]}
        )
        assert ("error", "GenerationError") == (
            polled.json()["status"],
            polled.json()["error"]["name"],
        )


def test_realistic_timings_differ_by_family_and_fast_stays_compressed() -> None:
    """Realistic: Runway is quicker than HappyHorse, Kling slower, turbo quicker than pro,
    longer videos longer. Fast: every model alike."""
    realistic, fast = MockConfig.realistic(), MockConfig.fast()
    scale = {
        model: realistic.scale(model, vendor, duration)
        for model, vendor, duration in [
            ("alibaba/happyhorse-1-0", "Alibaba Cloud", 5),
            ("runway/gen4_turbo", "Runway", 5),
            ("klingai/video-v3-pro-text-to-video", "Kling AI", 5),
            ("klingai/video-v3-standard-turbo-text-to-video", "Kling AI", 5),
        ]
    }
    assert 1.0 == scale["alibaba/happyhorse-1-0"]
    assert scale["runway/gen4_turbo"] < 1.0 < scale["klingai/video-v3-pro-text-to-video"]
    assert (
        scale["klingai/video-v3-standard-turbo-text-to-video"]
        < scale["klingai/video-v3-pro-text-to-video"]
    )
    assert realistic.scale("x", "Google", 10) > realistic.scale("x", "Google", 5)
    assert {1.0} == {fast.scale(m, "Kling AI", 10) for m in ("a-pro", "b-turbo")}
    seconds = (realistic.queued_s + realistic.generating_s) * scale[
        "klingai/video-v3-pro-text-to-video"
    ]
    assert 240 < seconds < 600  # plausible minutes
