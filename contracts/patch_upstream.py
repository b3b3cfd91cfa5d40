"""Build ``upstream/openapi.patched.json`` from the two documents as the upstream publishes them.

The raw files (``upstream/post.raw.json``, ``upstream/get.raw.json``) are the two JSON blocks of
the API reference, byte for byte; openapi-spec-validator refuses both. Each mend below is one
defect of the published contract. Run ``uv run python contracts/patch_upstream.py`` after changing
this script; a test fails when the committed output differs from what the script produces.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "upstream"
PATH = "/v2/video/generations"
ERROR_STATUSES = {
    "400": "Body validation error! (followed by details)",
    "401": "This request requires a valid API key.",
    "403": "You've run out of credits (not 429).",
    "404": "Not found (on a poll: an unknown generation id).",
    "429": "Too Many Requests (no Retry-After has been seen).",
    "500": "Internal server error (also: Something wrong with the server; model maintenance).",
    "502": "Bad Gateway",
    "503": "Service unavailable",
    "504": "Generation timeout",
}

# The two error body shapes the upstream really sends (anchors.md).
PLAIN_ERROR = {
    "type": "object",
    "description": "Error body, first shape. statusCode is a string.",
    "properties": {
        "message": {"type": "string"},
        "path": {"type": "string"},
        "requestId": {"type": "string"},
        "statusCode": {"type": "string", "example": "429"},
        "timestamp": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Validation details, when there are any.",
            "items": {"type": "object"},
        },
    },
    "required": ["message", "statusCode"],
}
PROBLEM_ERROR = {
    "type": "object",
    "description": "Error body, second shape (application/problem+json).",
    "properties": {
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "message": {"type": "string"},
        "instance": {"type": "string"},
        "requestId": {"type": "string"},
        "timestamp": {"type": "string"},
        "error": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "message": {"type": "string"}},
        },
    },
    "required": ["status", "message"],
}
FAILED_JOB_ERROR = {
    "description": "Why the generation failed: seen as {name, message} and as {detail: [...]}.",
    "nullable": True,
    "oneOf": [
        {
            "type": "object",
            "properties": {"name": {"type": "string"}, "message": {"type": "string"}},
            "required": ["name", "message"],
        },
        {
            "type": "object",
            "properties": {
                "detail": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {"type": "array", "items": {}},
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                }
            },
            "required": ["detail"],
        },
    ],
}


def _error_responses() -> dict[str, Any]:
    responses = {}
    for status, description in ERROR_STATUSES.items():
        responses[status] = {
            "description": description,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/ProblemError"}
                },
            },
        }
    return responses


def patch(post_doc: dict[str, Any], get_doc: dict[str, Any]) -> dict[str, Any]:
    post = copy.deepcopy(post_doc["paths"][PATH]["post"])
    get = copy.deepcopy(get_doc["paths"][PATH]["get"])
    scheme = copy.deepcopy(get_doc["components"]["securitySchemes"]["access-token"])

    # 1. An http bearer scheme takes no "in" (it is for apiKey schemes): the GET document's
    #    security scheme is invalid as published.
    scheme.pop("in", None)

    # 2. Both operations share the operationId "_v2_video_generations": make them distinct.
    post["operationId"] = "createVideoGeneration"
    get["operationId"] = "getVideoGeneration"

    # 3. The POST has no security although the API requires the Bearer key: declare it on both.
    post["security"] = [{"access-token": []}]
    get["security"] = [{"access-token": []}]

    # 4. Responses lack the required "description".
    post["responses"]["200"]["description"] = "The generation was accepted (status queued)."
    get["responses"]["200"]["description"] = "The generation's current status."

    # 5. duration is an integer enum whose default is the string "10": make it the integer.
    body_schema = post["requestBody"]["content"]["application/json"]["schema"]
    body_schema["properties"]["duration"]["default"] = 10
    # 5b. The body takes the declared fields only: the strict mock refuses others (as the gateway
    # does), so that a gateway field leaking upstream (callback_url, metadata) is caught.
    body_schema["additionalProperties"] = False

    # 6. The GET's meta.usage lacks usd_spent, which the POST document (and the API) has.
    get_props = get["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    usage = get_props["meta"]["properties"]["usage"]
    usage["properties"]["usd_spent"] = {
        "type": "number",
        "description": "The total amount of money spent by the user in USD.",
    }

    # 7. A failed job's error is seen in two shapes; the documents only describe one.
    for operation in (post, get):
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        schema["properties"]["error"] = copy.deepcopy(FAILED_JOB_ERROR)

    # 8. The error responses are undocumented: add 400 to 504 with both real body shapes.
    post["responses"].update(_error_responses())
    get["responses"].update(_error_responses())

    return {
        "openapi": "3.0.0",
        "info": {
            "title": "AIML API — video generations (patched)",
            "version": post_doc["info"]["version"],
            "description": "Both published documents, merged by contracts/patch_upstream.py.",
        },
        "servers": post_doc["servers"],
        "paths": {PATH: {"post": post, "get": get}},
        "components": {
            "securitySchemes": {"access-token": scheme},
            "schemas": {"Error": PLAIN_ERROR, "ProblemError": PROBLEM_ERROR},
        },
    }


def render() -> str:
    post_doc = json.loads((HERE / "post.raw.json").read_text(encoding="utf-8"))
    get_doc = json.loads((HERE / "get.raw.json").read_text(encoding="utf-8"))
    return json.dumps(patch(post_doc, get_doc), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    target = HERE / "openapi.patched.json"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
