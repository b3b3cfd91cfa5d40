"""``/v1/models`` and ``gateway models``; intake for any catalogue model over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.catalogue import load_catalogue
from gateway.cli import main
from gateway.testing.fakes import AllowAllGuard
from tests.http.conftest import BOOTSTRAP_KEY, Api, api_settings
from tests.http.test_api import assert_error_shape

AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}


async def test_the_list_has_every_catalogue_model_with_vendor_and_fields(api: Api) -> None:
    """Every model once; vendor from the document's folder; each field's rules and default."""
    response = await api.http.get("/v1/models", headers=api.auth())
    assert 200 == response.status_code
    data = response.json()["data"]
    assert [m.id for m in load_catalogue().models] == [m["id"] for m in data]
    ray = next(m for m in data if m["id"] == "luma/ray-2")
    assert ("Luma AI", ["model", "prompt"]) == (ray["vendor"], ray["required"])
    assert {"type": "integer", "enum": [5, 9], "default": 5} == ray["fields"]["duration"]
    only = (await api.http.get("/v1/models?vendor=openai", headers=api.auth())).json()["data"]
    assert {"OpenAI"} == {m["vendor"] for m in only}
    assert len(only) >= 4


async def test_one_model_by_an_id_with_slashes(api: Api) -> None:
    """The id is the rest of the path; an unknown one is a 404 suggesting close ids."""
    response = await api.http.get(
        "/v1/models/kling-video/v1.6/pro/image-to-video", headers=api.auth()
    )
    assert 200 == response.status_code, response.text
    assert "kling-video/v1.6/pro/image-to-video" == response.json()["id"]
    missing = await api.http.get("/v1/models/google/veo-3", headers=api.auth())
    assert 404 == missing.status_code
    assert_error_shape(missing.json(), "not_found")
    assert "google/veo3" in missing.json()["error"]["message"]
    assert 401 == (await api.http.get("/v1/models")).status_code


async def test_a_job_for_another_model_stores_the_body_as_sent_upstream(api: Api) -> None:
    """Kling with Zapier-style strings: coerced by the model's declared types, stored as sent."""
    response = await api.submit(
        model="klingai/video-v3-pro-text-to-video", duration="7", generate_audio="false"
    )
    assert 202 == response.status_code, response.text
    job = response.json()
    assert {
        "model": "klingai/video-v3-pro-text-to-video",
        "prompt": "a horse",
        "duration": 7,
        "generate_audio": False,
    } == job["request"]
    assert job["body_checked"] is True


async def test_a_field_the_model_does_not_take_and_an_unknown_model_are_400s(api: Api) -> None:
    """Both name the field; the unknown model's message suggests the closest ids."""
    wrong = await api.submit(model="google/veo3", seed_value=3)
    assert 400 == wrong.status_code
    assert "seed_value" == wrong.json()["error"]["details"][0]["field"]
    unknown = await api.submit(model="openai/sora-2")
    assert_error_shape(unknown.json(), "invalid_request")
    assert "model" == unknown.json()["error"]["details"][0]["field"]
    assert "openai/sora-2-t2v" in unknown.json()["error"]["message"]


async def test_unlisted_models_pass_only_when_allowed(tmp_path: Path) -> None:
    """GATEWAY_ALLOW_UNLISTED_MODELS=true: accepted, marked as not checked; off: a 400."""
    settings = api_settings(tmp_path, allow_unlisted_models=True)
    app = create_app(settings, guard=AllowAllGuard(), run_worker=False)
    async with AsyncTestClient(app=app) as http:
        body = {"model": "newco/video-2", "prompt": "a horse", "fps": 24}
        response = await http.post("/v1/jobs", json=body, headers=AUTH)
        assert 202 == response.status_code, response.text
        assert (False, body) == (response.json()["body_checked"], response.json()["request"])


@pytest.mark.parametrize("args", [[], ["luma/ray-2"], ["--vendor", "Google", "--json"]])
def test_the_cli_prints_the_catalogue(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`gateway models [ID]` prints what the API serves, for people (or as JSON)."""
    assert 0 == main(["models", *args])
    out = capsys.readouterr().out
    if not args:
        assert f"{len(load_catalogue().models)} models" in out
    elif args[0] == "luma/ray-2":
        assert "duration" in out
        assert "5 | 9" in out
    else:
        assert '"vendor": "Google"' in out


def test_the_cli_suggests_ids_for_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert 1 == main(["models", "veo3"])
    assert "google/veo3" in capsys.readouterr().err
