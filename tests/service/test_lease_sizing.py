"""The lease is sized to the link (issue 31): the database round trip is measured at start-up
and at each claim, and a lease shorter than 25 round trips is a warning and a metric."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from structlog.testing import capture_logs

from gateway.domain.leases import lease_too_short, shortest_safe_lease_s
from gateway.store import Store
from gateway.testing.fakes import Clock
from gateway.testing.tcp_proxy import FaultProxy
from tests.backends import open_empty_store
from tests.http.conftest import api_settings, gateway_app, in_this_loop
from tests.pg import require_pg


def test_the_rule_in_round_trips() -> None:
    """The measured case of the issue: 200 ms each way (0.4 s round trip) lost work with a 4-s
    lease, not with a 10-s one."""
    assert (10.0, True, False) == (
        shortest_safe_lease_s(0.4),
        lease_too_short(4.0, 0.4),
        lease_too_short(10.0, 0.4),
    )


@pytest.mark.parametrize(("lease_s", "warned"), [(4.0, True), (60.0, False)])
async def test_a_slow_link_makes_a_short_lease_a_warning_and_a_metric(
    pg_module_url: str, tmp_path: Path, lease_s: float, warned: bool
) -> None:
    """PostgreSQL 100 ms away each way (a delaying proxy): at start-up the round trip is measured;
    a 4-s lease (needs 5 s) logs ``lease_too_short`` and sets the metric, a 60-s lease not."""
    require_pg()
    await (await open_empty_store(pg_module_url)).close()
    target = urlsplit(pg_module_url)
    async with FaultProxy(("127.0.0.1", target.port or 5432)) as proxy:
        url = pg_module_url.replace(target.netloc, f"{target.username}@127.0.0.1:{proxy.port}")
        store = await Store.open(url)
        proxy.delay(0.1)
        app = gateway_app(
            api_settings(tmp_path, database_url=url, lease_s=lease_s), store, clock=Clock()
        )
        try:
            with capture_logs() as logs:
                async with in_this_loop(app) as http:
                    metrics = (await http.get("/metrics")).text
        finally:
            await store.close()

    assert warned == any(e["event"] == "lease_too_short" for e in logs)
    assert f"gateway_lease_too_short {1.0 if warned else 0.0}" in metrics
    assert "gateway_db_round_trip_seconds_count 1.0" in metrics
