"""The intake ladder's rungs do what their labels say (a rung that answered 401 or skipped its
step would measure nothing and still print a table): each authenticates, each from ``parse`` on
reads the body, ``check`` applies the model's rules, and none stores a job."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from bench.intake import BODY
from bench.intake_ladder_app import answer, check, parse
from gateway.store.schema import jobs
from tests.http.conftest import BOOTSTRAP_KEY, api_settings, gateway_app

RUNGS = ["/bench/answer", "/bench/parse", "/bench/check"]
JSON = {"Content-Type": "application/json"}
KEY = {"Authorization": f"Bearer {BOOTSTRAP_KEY}", **JSON}


async def test_each_rung_answers_the_benchmark_body_without_storing_it(tmp_path: Path) -> None:
    app = gateway_app(api_settings(tmp_path), extra_route_handlers=[answer, parse, check])
    async with AsyncTestClient(app=app) as http:
        for rung in RUNGS:
            accepted = await http.post(rung, content=BODY, headers=KEY)
            assert 202 == accepted.status_code, (rung, accepted.text)
            assert 401 == (await http.post(rung, content=BODY, headers=JSON)).status_code
        refused = {
            rung: (await http.post(rung, content=b"{not json", headers=KEY)).status_code
            for rung in RUNGS
        }
        assert {"/bench/answer": 202, "/bench/parse": 400, "/bench/check": 400} == refused
        breaking = BODY.replace('"duration":"5"', '"duration":"-1"')
        assert 202 == (await http.post("/bench/parse", content=breaking, headers=KEY)).status_code
        assert 400 == (await http.post("/bench/check", content=breaking, headers=KEY)).status_code
        async with app.state.gateway.runtime.store.db.read() as conn:
            assert 0 == await conn.scalar(sa.select(sa.func.count()).select_from(jobs))
