"""The intake baseline: a bare Litestar endpoint that answers 202 at once, served like the gateway
(uvicorn, one worker, no access log). ``python -m bench.bare_app PORT``."""

from __future__ import annotations

import sys
import uuid

import msgspec
import uvicorn
from litestar import Litestar, get, post


class Accepted(msgspec.Struct):
    id: str
    status: str


@post("/v1/jobs", status_code=202)
async def accept(data: dict[str, object]) -> Accepted:
    return Accepted(id=uuid.uuid4().hex, status="accepted")


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([accept, healthz])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
