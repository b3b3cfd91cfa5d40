"""The admin API writes times as the rest of the API does: ISO 8601 in UTC with milliseconds
(``2027-01-15T08:00:00.000Z``), never Unix seconds; the OpenAPI document says so."""

from __future__ import annotations

import json
from pathlib import Path

from tests.http.conftest import ADMIN_KEY, Api

DOCUMENT = Path(__file__).parents[2] / "contracts" / "gateway.openapi.json"
NOW = "2027-01-15T08:00:00.000Z"  # the api fixture's clock: 1_800_000_000


async def test_created_listed_revoked_and_rotated_clients_carry_iso_times(api: Api) -> None:
    admin = api.auth(ADMIN_KEY)
    created = await api.new_client("times")
    listed = (await api.http.get("/v1/admin/clients", headers=admin)).json()
    rotated = (
        await api.http.post(f"/v1/admin/clients/{created['id']}/rotate-secret", headers=admin)
    ).json()
    revoked = (
        await api.http.post(f"/v1/admin/clients/{created['id']}/revoke", headers=admin)
    ).json()
    grace_end = "2027-01-16T08:00:00.000Z"  # GATEWAY_SECRET_ROTATION_GRACE_S: 24 h
    assert ([NOW], grace_end, NOW) == (
        [c["created_at"] for c in listed if c["id"] == created["id"]],
        rotated["previous_secret_valid_until"],
        revoked["created_at"],
    )


def test_the_document_types_every_admin_time_as_a_date_time_string() -> None:
    schemas = json.loads(DOCUMENT.read_text())["components"]["schemas"]
    times = {
        (name, field): spec
        for name in ("ClientView", "RotatedSecret")
        for field, spec in schemas[name]["properties"].items()
        if field.endswith(("_at", "_until"))
    }
    assert {("ClientView", "created_at"), ("RotatedSecret", "previous_secret_valid_until")} == set(
        times
    )
    assert [] == [key for key, spec in times.items() if spec.get("type") != "string"]
