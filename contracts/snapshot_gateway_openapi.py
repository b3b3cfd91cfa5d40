"""Write the gateway's OpenAPI document to ``contracts/gateway.openapi.json``.

Run ``uv run python contracts/snapshot_gateway_openapi.py`` after changing the API; a test fails
while the committed snapshot and the running API disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGET = Path(__file__).parent / "gateway.openapi.json"


def document() -> dict[str, Any]:
    from gateway.app import create_app
    from gateway.settings import Settings

    app = create_app(Settings(), run_worker=False)  # the schema needs no running dependencies
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    return schema


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
