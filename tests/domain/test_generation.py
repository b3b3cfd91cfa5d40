"""A job request is checked by its model's rules before money is spent (happyhorse here; every
catalogue model in tests/models)."""

from typing import Any

import pytest

from gateway.catalogue import load_catalogue
from gateway.domain.generation import CheckedJob, check_job
from gateway.domain.model_rules import Rulebook, RuleBroken

RULES = Rulebook(load_catalogue())


def _check(metadata_max_bytes: int = 2048, **fields: Any) -> CheckedJob | list[RuleBroken]:
    return check_job(RULES, {"prompt": "a horse", **fields}, metadata_max_bytes=metadata_max_bytes)


def _ok(**fields: Any) -> CheckedJob:
    result = _check(**fields)
    assert isinstance(result, CheckedJob), result
    return result


def _fields(**fields: Any) -> list[str]:
    result = _check(**fields)
    assert isinstance(result, list), result
    return [b.field for b in result]


def test_strings_are_coerced_like_the_upstream_examples() -> None:
    """``"duration": "7"`` (the seed's own example) and ``"watermark": "true"`` are accepted."""
    body = _ok(duration="7", watermark="true", seed="42").body
    assert (7, True, 42) == (body["duration"], body["watermark"], body["seed"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"duration": 2}, "duration"),
        ({"duration": 16}, "duration"),
        ({"duration": "seven"}, "duration"),
        ({"aspect_ratio": "2:1"}, "aspect_ratio"),
        ({"resolution": "4k"}, "resolution"),
        ({"watermark": "maybe"}, "watermark"),
        (
            {"reference_image_urls": [f"https://x.test/{i}.png" for i in range(10)]},
            "reference_image_urls",
        ),
        ({"events": ["done"]}, "events[0]"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_declared_rules_refuse_naming_the_field(fields: dict[str, Any], field: str) -> None:
    """Values outside the upstream's enums and ranges, and unknown fields, are refused by name."""
    assert [field] == _fields(**fields)


def test_rules_a_type_cannot_say() -> None:
    """Media URLs (scheme, data URI kind) and metadata size are checked by rule."""
    assert ["metadata", "image_url", "video_url"] == _fields(
        metadata_max_bytes=500,
        image_url="ftp://x.test/a.png",
        video_url="data:image/png;base64,AAAA",
        metadata={"k": "v" * 400, "j": "w" * 400},
    )


def test_an_unknown_model_is_refused_with_the_closest_ids() -> None:
    """A typo in the model id: a 400 on `model` suggesting the ids it probably meant."""
    [broken] = _check(model="klingai/video-v3-pro-text2video")  # type: ignore[misc]
    assert "model" == broken.field
    assert "did you mean klingai/video-v3-pro-text-to-video" in broken.message


def test_an_unlisted_model_passes_with_only_the_common_checks_when_allowed() -> None:
    """GATEWAY_ALLOW_UNLISTED_MODELS: any field goes, but URLs and the prompt are still checked."""
    data = {"model": "newvendor/video-9", "prompt": "a horse", "fps": "24", "image_url": "x"}
    broken = check_job(RULES, data, metadata_max_bytes=2048, allow_unlisted=True)
    assert ["image_url"] == [b.field for b in broken]  # type: ignore[union-attr]
    data["image_url"] = "https://x.test/a.png"
    job = check_job(RULES, data, metadata_max_bytes=2048, allow_unlisted=True)
    assert isinstance(job, CheckedJob)
    assert (False, data) == (job.checked, job.body)


def test_end_frame_names_differ_by_model_and_the_error_says_so() -> None:
    """``tail_image_url`` sent to a model that calls it ``last_image_url``: named, with a hint."""
    model = "klingai/video-v3-pro-image-to-video"
    rules = RULES.for_model(model)
    assert rules is not None
    assert "last_image_url" in rules.spec.properties or "tail_image_url" in rules.spec.properties
    wrong = "tail_image_url" if "last_image_url" in rules.spec.properties else "last_image_url"
    result = _check(
        model=model, image_url="https://x.test/a.png", **{wrong: "https://x.test/b.png"}
    )
    assert isinstance(result, list)
    right = "last_image_url" if wrong == "tail_image_url" else "tail_image_url"
    assert [(wrong, f"is not a field of this model; did you mean {right}?")] == [
        (b.field, b.message) for b in result
    ]


def test_audio_setting_needs_a_video() -> None:
    """``audio_setting`` only works with a reference video, as the upstream documents."""
    assert [RuleBroken("audio_setting", "only applies when video_url is given")] == _check(
        audio_setting="origin"
    )


def test_data_uris_and_https_urls_pass() -> None:
    """A base64 image, an https image and an https video are all valid media."""
    _ok(
        image_url="data:image/png;base64,iVBORw0KGgo=",
        reference_image_urls=["https://x.test/a.png"],
        video_url="https://x.test/v.mp4",
        audio_setting="origin",
    )


def test_the_upstream_body_holds_only_generation_fields() -> None:
    """callback_url, metadata and events stay in the gateway; the default model is filled in."""
    job = _ok(duration="7", callback_url="https://hook.test/x", metadata={"a": "b"})
    assert {"model": "alibaba/happyhorse-1-0", "prompt": "a horse", "duration": 7} == job.body
    assert ("https://hook.test/x", {"a": "b"}) == (job.gateway.callback_url, job.gateway.metadata)


def test_poll_learning_keys_use_the_models_defaults() -> None:
    """Resolution and duration for the poll policy: the body's, else the model's defaults."""
    assert ("1080p", 10) == (_ok().resolution, _ok().duration)
    assert ("720p", 5) == (_ok(resolution="720p", duration="5").resolution, 5)


def test_fingerprint_is_stable_and_sensitive() -> None:
    """The same fields give the same hash however they were written; a change changes it."""
    assert _ok(duration="7").fingerprint() == _ok(duration=7).fingerprint()
    assert _ok(duration=7).fingerprint() != _ok(duration=8).fingerprint()


def _broken(**fields: Any) -> list[tuple[str, str]]:
    result = _check(**fields)
    assert isinstance(result, list), result
    return [(b.field, b.message) for b in result]


def test_the_documentations_other_name_for_reference_images_is_sent_as_the_schemas() -> None:
    """Happy Horse's JavaScript example sends ``reference_image_url``; its schema says
    ``reference_image_urls``: taken, checked by that field's rules (reported under the name
    sent) and sent under the schema's name; both at once is refused; a model that declares a
    ``reference_image_url`` of its own keeps it."""
    image = "https://x.test/t-rex.png"
    taken = _check(reference_image_url=[image], video_url="https://x.test/v.mp4")
    assert isinstance(taken, CheckedJob), taken
    assert ([image], False) == (
        taken.body.get("reference_image_urls"),
        "reference_image_url" in taken.body,
    )
    assert [
        (
            "reference_image_url[0]",
            'must be an http(s) URL or a base64 data:image/… URI, got "ftp://x"',
        )
    ] == [
        (b.field, b.message)
        for b in _check(reference_image_url=["ftp://x"])  # type: ignore[union-attr]
    ]
    both = _check(reference_image_url=[image], reference_image_urls=[image])
    assert [
        ("reference_image_url", "is another name for reference_image_urls: send one of them")
    ] == [
        (b.field, b.message)
        for b in both  # type: ignore[union-attr]
    ]
    own = _check(
        model="beeble/switchx-video-to-video",
        video_url="https://x.test/v.mp4",
        reference_image_url=image,
    )
    assert isinstance(own, CheckedJob), own
    assert image == own.body["reference_image_url"]
