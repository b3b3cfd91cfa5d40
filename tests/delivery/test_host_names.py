"""Destination hosts that are not host names are refused at intake, naming the field; a
well-formed name that merely does not resolve (now) is accepted, as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.delivery.guard import AddressGuard
from gateway.domain.addresses import Allowlist, CallbackUrlRejected, parse_callback_url
from gateway.testing.fakes import Clock, RecordingSender, ScriptedUpstream
from tests.delivery.receiver import ScriptedResolver
from tests.http.conftest import BOOTSTRAP_KEY, api_settings

LABEL_300 = "a" * 300
NAME_254 = ".".join(["a" * 63] * 3 + ["b" * 61]) + ".test"  # 63*3 + 61 + 5 + 3 dots = 258
BAD_HOSTS = [
    pytest.param("a b.example.com", "a space", id="space"),
    pytest.param(f"{LABEL_300}.example.com", "300 characters", id="300-character label"),
    pytest.param(NAME_254, "258 characters", id="name over 253"),
    pytest.param("a..example.com", "an empty label", id="empty label"),
    pytest.param("-hooks.example.com", "hyphen", id="leading hyphen"),
    pytest.param("hooks-.example.com", "hyphen", id="trailing hyphen"),
    pytest.param("hooks!.example.com", '"!"', id="punctuation"),
    pytest.param("hooks.example.123", "numeric", id="numeric last label"),
    pytest.param("1.2.3.999", "numeric", id="not an IPv4 address"),
]
GOOD_HOSTS = [
    "hooks.zapier.com",
    "a" * 63 + ".example.com",
    ".".join(["a" * 63] * 3 + ["b" * 57]) + ".com",  # 253 characters
    "xn--bcher-kva.example",
    "bücher.example",
    "my_host.example.com",
    "hooks.example.com.",
    "nowhere-at-all.invalid",
    "localhost4",
]


@pytest.mark.parametrize(("host", "reason"), BAD_HOSTS)
def test_a_host_that_is_no_host_name_is_refused(host: str, reason: str) -> None:
    with pytest.raises(CallbackUrlRejected) as refused:
        parse_callback_url(f"https://{host}/hook")
    message = str(refused.value)
    assert message.startswith("its host must be a host name"), message
    assert reason in message, message


@pytest.mark.parametrize("host", GOOD_HOSTS)
def test_well_formed_names_parse(host: str) -> None:
    assert parse_callback_url(f"https://{host}/hook").host == host.lower().rstrip(".")


@pytest.fixture
def app(tmp_path: Path) -> Any:
    """The app with the real SSRF guard over a resolver that knows no name at all."""
    return create_app(
        api_settings(tmp_path),
        upstream=ScriptedUpstream(),
        sender=RecordingSender(),
        guard=AddressGuard(Allowlist(), ScriptedResolver({})),
        clock=Clock(start=1_800_000_000.0),
        run_worker=False,
    )


AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}


@pytest.mark.parametrize(("host", "reason"), BAD_HOSTS[:3])
async def test_intake_refuses_them_naming_the_field(app: Any, host: str, reason: str) -> None:
    url = f"https://{host}/hook"
    async with AsyncTestClient(app=app) as http:
        job = await http.post("/v1/jobs", json={"prompt": "p", "callback_url": url}, headers=AUTH)
        subscription = await http.post("/v1/subscriptions", json={"target_url": url}, headers=AUTH)
    for response, field in ((job, "callback_url"), (subscription, "target_url")):
        assert 400 == response.status_code, response.text
        error = response.json()["error"]
        assert ("callback_url_rejected", [field]) == (
            error["code"],
            [d["field"] for d in error["details"]],
        )
        assert error["message"].startswith(f"{field} is refused: its host must be a host name")


async def test_a_well_formed_name_that_does_not_resolve_is_accepted(app: Any) -> None:
    url = "https://not-yet-in-dns.example.com/hook"
    async with AsyncTestClient(app=app) as http:
        job = await http.post("/v1/jobs", json={"prompt": "p", "callback_url": url}, headers=AUTH)
        subscription = await http.post("/v1/subscriptions", json={"target_url": url}, headers=AUTH)
    assert (202, 201) == (job.status_code, subscription.status_code)
