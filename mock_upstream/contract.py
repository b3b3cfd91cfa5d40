"""The POST body rules of the (patched) upstream contract, as plain checks.

``violations(body)`` lists every deviation: the lenient mock records them in its journal (the
real API evidently accepts ``"duration": "7"``); the strict mock refuses them with a 400.
"""

from __future__ import annotations

import re
from typing import Any

MODELS = ("alibaba/happyhorse-1-0",)
ENUMS: dict[str, tuple[Any, ...]] = {
    "model": MODELS,
    "aspect_ratio": ("16:9", "9:16", "1:1", "4:3", "3:4"),
    "resolution": ("720p", "1080p"),
    "duration": tuple(range(3, 16)),
    "audio_setting": ("auto", "origin"),
}
STRING_FIELDS = (
    "model",
    "prompt",
    "image_url",
    "video_url",
    "aspect_ratio",
    "resolution",
    "audio_setting",
)


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")  # format: uri (a data: URI is one too)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def violations(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"path": "$", "message": "the body must be a JSON object"}]
    found: list[dict[str, str]] = []

    def add(path: str, message: str) -> None:
        found.append({"path": path, "message": message})

    for name in ("model", "prompt"):
        if name not in body:
            add(name, "is required")
    for name in STRING_FIELDS:
        if name in body and not isinstance(body[name], str):
            add(name, f"must be a string, got {type(body[name]).__name__}")
    if "duration" in body and not _is_int(body["duration"]):
        add("duration", f"must be an integer, got {type(body['duration']).__name__}")
    if "seed" in body and not _is_int(body["seed"]):
        add("seed", "must be an integer")
    if "watermark" in body and not isinstance(body["watermark"], bool):
        add("watermark", "must be a boolean")
    for name in ("image_url", "video_url"):
        if isinstance(body.get(name), str) and not _URI.match(body[name]):
            add(name, "must be a URI")
    if "reference_image_urls" in body:
        urls = body["reference_image_urls"]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            add("reference_image_urls", "must be an array of strings")
        elif len(urls) > 9:
            add("reference_image_urls", "must have at most 9 items")
        elif not all(_URI.match(u) for u in urls):
            add("reference_image_urls", "must hold URIs")
    for name, allowed in ENUMS.items():
        value = body.get(name)
        if (
            name in body
            and value not in allowed
            and not (name == "duration" and not _is_int(value))
        ):
            add(name, f"must be one of {list(allowed)}")
    return found
