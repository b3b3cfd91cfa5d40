"""Reading a job request from JSON or from a form (Zapier) into a plain dict, forgiving where
callers differ. The chosen model's rules (types, coercion of strings, enums, …) are applied
afterwards, by intake, to that dict (``gateway.domain.generation.check_job``).

- numbers and booleans as strings are coerced (``"duration": "7"``);
- empty strings mean "not given" (Zapier sends every unmapped field as ``""``);
- in forms, lists come as repeated keys (``image_urls``, ``…[]``, ``…[0]``; a lone value for an
  array field counts as a one-item list, by the model's rules), ``events`` may also be
  comma-separated, and metadata as ``metadata[key]=value`` or ``metadata.key=value``
  (or one ``metadata`` field holding a JSON object);
- on ``/v1/jobs``, the no-code conveniences (``gateway.http.conveniences``), by the chosen
  model's declared types: ``metadata__key``, yes/no/on/off booleans, comma-joined URL lists.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from gateway.domain import wording
from gateway.domain.model_rules import Rulebook
from gateway.errors import InvalidRequest, UnsupportedMediaType
from gateway.http.conveniences import apply_conveniences

_INDEXED = re.compile(r"^(?P<name>[a-z_]+)(\[(?P<key>[^\]]*)\]|\.(?P<dotkey>.+))$")


def parse_job_request(content_type: str, body: bytes, rulebook: Rulebook) -> dict[str, Any]:
    """A ``/v1/jobs`` body: read, with the no-code conveniences for the chosen model, cleaned."""
    return convert_job_request(apply_conveniences(read_fields(content_type, body), rulebook))


def read_fields(content_type: str, body: bytes) -> dict[str, Any]:
    """The request's fields as a plain dict, from JSON or a form; not yet cleaned or checked."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("", "application/json") or media.endswith("+json"):
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise InvalidRequest(wording.not_json(str(exc))) from None
        except UnicodeDecodeError:  # msgspec checks UTF-8 only when it builds a string
            raise InvalidRequest("The body is not valid UTF-8") from None
        if not isinstance(decoded, dict):
            raise InvalidRequest(f"The body {wording.must_be('a JSON object', decoded)}")
        data: dict[str, Any] = decoded
    elif media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise InvalidRequest("The form body is not valid UTF-8") from None
        data = _from_form(pairs)
    else:
        raise UnsupportedMediaType(
            "Send the body as application/json or application/x-www-form-urlencoded"
        )
    return data


def convert_job_request(data: dict[str, Any]) -> dict[str, Any]:
    """The fields as given, minus empty ones; events and metadata in their forgiving forms."""
    cleaned = {key: value for key, value in data.items() if value != "" and value is not None}
    events = cleaned.get("events")
    if isinstance(events, str):
        cleaned["events"] = [part.strip() for part in events.split(",") if part.strip()]
    metadata = cleaned.get("metadata")
    if isinstance(metadata, str):
        try:
            cleaned["metadata"] = msgspec.json.decode(metadata)
        except (msgspec.DecodeError, RecursionError):
            wrong = wording.must_be("an object of strings", metadata)
            raise InvalidRequest(
                f"metadata {wrong}", details=[{"field": "metadata", "message": wrong}]
            ) from None
    if isinstance(cleaned.get("metadata"), dict):
        # Zapier and friends send numbers; metadata is echoed back as strings.
        cleaned["metadata"] = {
            str(k): v if isinstance(v, str) else msgspec.json.encode(v).decode()
            for k, v in cleaned["metadata"].items()
        }
    return cleaned


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
        indexed = match is not None and match.group("key") is not None
        name = match.group("name") if match is not None and indexed else raw_key
        if name == "events":  # a blank one (``events=``) is "not given": no empty list
            parts = [p.strip() for p in value.split(",") if p.strip()]
            if parts:
                data.setdefault(name, []).extend(parts)
            continue
        if indexed or name in data:  # ``name[]``, ``name[0]`` or a repeated key: a list
            if value != "":
                previous = data.get(name)
                items = previous if isinstance(previous, list) else []
                if isinstance(previous, str) and previous != "":
                    items.append(previous)
                data[name] = [*items, value]
            continue
        data[name] = value
    return data
