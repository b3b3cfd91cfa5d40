"""Reading a job request from JSON or from a form (Zapier), forgiving where callers differ.

- numbers and booleans as strings are coerced (``"duration": "7"``);
- empty strings mean "not given" (Zapier sends every unmapped field as ``""``);
- in forms, lists come as repeated keys (``reference_image_urls``, ``…[]``, ``…[0]``), ``events``
  may also be comma-separated, and metadata as ``metadata[key]=value`` or ``metadata.key=value``
  (or one ``metadata`` field holding a JSON object);
- then the no-code conveniences (``gateway.http.conveniences``): ``metadata__key``, yes/no/on/off
  booleans, comma-joined URL lists;
- every refused field is named, an unknown one included.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from gateway.domain.generation import JobRequest
from gateway.errors import InvalidRequest
from gateway.http.conveniences import apply_conveniences

_LIST_FIELDS = {"reference_image_urls", "events"}
_INDEXED = re.compile(r"^(?P<name>[a-z_]+)(\[(?P<key>[^\]]*)\]|\.(?P<dotkey>.+))$")
_AT_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`")
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<name>[^`]*)`")


class UnsupportedMediaType(InvalidRequest):
    status_code = 415
    code = "unsupported_media_type"


def parse_job_request(content_type: str, body: bytes) -> JobRequest:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("", "application/json") or media.endswith("+json"):
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise InvalidRequest("The body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidRequest("The body must be a JSON object")
    elif media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise InvalidRequest("The form body is not valid UTF-8") from None
        data = _from_form(pairs)
    else:
        raise UnsupportedMediaType(
            "Send the job as application/json or application/x-www-form-urlencoded"
        )
    return convert_job_request(apply_conveniences(data, JobRequest))


def convert_job_request(data: dict[str, Any]) -> JobRequest:
    cleaned = {key: value for key, value in data.items() if value != "" and value is not None}
    events = cleaned.get("events")
    if isinstance(events, str):
        cleaned["events"] = [part.strip() for part in events.split(",") if part.strip()]
    metadata = cleaned.get("metadata")
    if isinstance(metadata, str):
        try:
            cleaned["metadata"] = msgspec.json.decode(metadata)
        except (msgspec.DecodeError, RecursionError):
            raise InvalidRequest(
                "metadata must be an object of strings",
                details=[{"field": "metadata", "message": "must be an object of strings"}],
            ) from None
    if isinstance(cleaned.get("metadata"), dict):
        # Zapier and friends send numbers; metadata is echoed back as strings.
        cleaned["metadata"] = {
            str(k): v if isinstance(v, str) else msgspec.json.encode(v).decode()
            for k, v in cleaned["metadata"].items()
        }
    try:
        return msgspec.convert(cleaned, JobRequest, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT_PATH.search(text)
        # msgspec writes a dict value's path as ``metadata[...]``: name the field itself.
        field = (match.group("path") if match else "").replace("[...]", "")
        message = _AT_PATH.sub("", text)
        unknown = _UNKNOWN_FIELD.search(message)
        if unknown is not None:
            field = ".".join(p for p in (field, unknown.group("name")) if p)
            message = "unknown field (not one this API takes)"
        if field:
            message = f"{field}: {message}"
        raise InvalidRequest(
            f"Invalid job request: {message}", details=[{"field": field, "message": message}]
        ) from None


def _from_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _INDEXED.match(raw_key)
        if match is not None and match.group("name") == "metadata":
            key = match.group("key") if match.group("key") is not None else match.group("dotkey")
            if value != "":
                data.setdefault("metadata", {})
                if isinstance(data["metadata"], dict):
                    data["metadata"][key] = value
            continue
        name = match.group("name") if match is not None else raw_key
        if name in _LIST_FIELDS:
            if value != "":
                data.setdefault(name, [])
                parts = value.split(",") if name == "events" else [value]
                data[name].extend(p.strip() for p in parts if p.strip())
            continue
        data[name] = value
    return data
