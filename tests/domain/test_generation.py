"""The job request carries the upstream's rules; breaking one is caught before money is spent."""

import msgspec
import pytest

from gateway.domain.generation import (
    JobRequest,
    RuleBroken,
    check_rules,
    request_fingerprint,
    upstream_body,
)


def _request(**fields: object) -> JobRequest:
    return msgspec.convert({"prompt": "a horse", **fields}, JobRequest, strict=False)


def test_strings_are_coerced_like_the_upstream_examples() -> None:
    """``"duration": "7"`` (the seed's own example) and ``"watermark": "true"`` are accepted."""
    request = _request(duration="7", watermark="true", seed="42")
    assert (7, True, 42) == (request.duration, request.watermark, request.seed)


@pytest.mark.parametrize(
    "fields",
    [
        {"duration": 2},
        {"duration": 16},
        {"aspect_ratio": "2:1"},
        {"resolution": "4k"},
        {"reference_image_urls": [f"https://x.test/{i}.png" for i in range(10)]},
        {"events": ["done"]},
        {"prompt": ""},
        {"unknown_field": 1},
    ],
)
def test_type_rules_refuse(fields: dict[str, object]) -> None:
    """Values outside the upstream's enums and ranges, and unknown fields, are refused."""
    with pytest.raises(msgspec.ValidationError):
        _request(**fields)


def test_rules_a_type_cannot_say() -> None:
    """Model, media URLs, audio without video and metadata size are checked by rule."""
    request = _request(
        model="other/model",
        image_url="ftp://x.test/a.png",
        video_url="data:image/png;base64,AAAA",
        metadata={"k": "v" * 400, "j": "w" * 400},
    )
    broken = check_rules(request, metadata_max_bytes=500)
    assert ["model", "image_url", "video_url", "metadata"] == [b.field for b in broken]


def test_audio_setting_needs_a_video() -> None:
    """``audio_setting`` only works with a reference video, as the upstream documents."""
    assert [RuleBroken("audio_setting", "only applies when video_url is given")] == check_rules(
        _request(audio_setting="origin"), metadata_max_bytes=2048
    )


def test_data_uris_and_https_urls_pass() -> None:
    """A base64 image, an https image and an https video are all valid media."""
    request = _request(
        image_url="data:image/png;base64,iVBORw0KGgo=",
        reference_image_urls=["https://x.test/a.png"],
        video_url="https://x.test/v.mp4",
        audio_setting="origin",
    )
    assert [] == check_rules(request, metadata_max_bytes=2048)


def test_upstream_body_holds_only_generation_fields() -> None:
    """callback_url, metadata and events stay in the gateway; the default model is filled in."""
    request = _request(duration="7", callback_url="https://hook.test/x", metadata={"a": "b"})
    assert {"model": "alibaba/happyhorse-1-0", "prompt": "a horse", "duration": 7} == upstream_body(
        request
    )


def test_fingerprint_is_stable_and_sensitive() -> None:
    """The same fields give the same hash however they were written; a change changes it."""
    assert request_fingerprint(_request(duration="7")) == request_fingerprint(_request(duration=7))
    assert request_fingerprint(_request(duration=7)) != request_fingerprint(_request(duration=8))
