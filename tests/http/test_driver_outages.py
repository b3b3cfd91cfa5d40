"""A database error answers by what it means on every route, the key lookup included: a
PostgreSQL restart (``57P03`` "the database system is starting up", raised raw by
``asyncpg.connect``) is a 503 ``store_unavailable`` with Retry-After, never a 500; a value the
database refuses (SQLSTATE class 22) that reaches the HTTP layer is a 400."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import get
from sqlalchemy import event, exc

from tests.http.conftest import Api
from tests.http.test_api import assert_error_shape
from tests.http.test_outages import assert_store_unavailable


async def test_a_database_starting_up_answers_503_from_the_key_lookup(stored_api: Api) -> None:
    """New connections fail with CannotConnectNowError (a ``do_connect`` hook stands in for
    PostgreSQL's restart): an unknown key's lookup and a keyed read answer 503, not 500; after
    the restart the same requests are answered again."""
    api = stored_api
    assert 200 == (await api.http.get("/v1/jobs", headers=api.auth())).status_code
    db = api.gateway.runtime.store.db
    starting = True

    def restart(_dialect: Any, _record: Any, _args: Any, _params: Any) -> None:
        if starting:
            raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    event.listen(db.engine.sync_engine, "do_connect", restart)
    await db.engine.dispose()  # every next connection is a new one
    api.clock.advance(5)
    unknown_key = await api.http.get("/v1/jobs", headers=api.auth("gw_not_a_key_0123456789"))
    api.gateway.services.client_keys.forget_all()
    keyed = await api.http.get("/v1/jobs", headers=api.auth())
    starting = False
    after_unknown = await api.http.get("/v1/jobs", headers=api.auth("gw_not_a_key_0123456789"))
    after_keyed = await api.http.get("/v1/jobs", headers=api.auth())

    assert_store_unavailable(unknown_key)
    assert_store_unavailable(keyed)
    assert [401, 200] == [after_unknown.status_code, after_keyed.status_code]


@get("/test/refused-value", sync_to_thread=False)
def refused_value() -> None:
    raise exc.DBAPIError(
        "SELECT 1", None, asyncpg.exceptions.NumericValueOutOfRangeError("out of range")
    )


@get("/test/restarting", sync_to_thread=False)
def restarting() -> None:
    raise asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator")


async def test_a_database_error_reaching_the_http_layer_answers_by_its_meaning(
    tmp_path: Any,
) -> None:
    """The last resort maps a database error by SQLSTATE too: 22xxx → 400, 57P01 → 503."""
    from litestar.testing import AsyncTestClient

    from tests.http.conftest import api_settings, gateway_app

    app = gateway_app(api_settings(tmp_path), extra_route_handlers=[refused_value, restarting])
    async with AsyncTestClient(app=app) as http:
        refused = await http.get("/test/refused-value")
        restart = await http.get("/test/restarting")
    assert 400 == refused.status_code, refused.text
    assert_error_shape(refused.json(), "invalid_request")
    assert_store_unavailable(restart)
