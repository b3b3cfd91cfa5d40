"""The SSRF guard: intake checks of callback URLs and the connect-time address check."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from gateway.delivery.guard import AddressGuard, HostNotResolved, system_resolver
from gateway.domain.addresses import Allowlist, CallbackUrlRejected
from tests.delivery.receiver import ScriptedResolver

RESOLVER = ScriptedResolver(
    {
        "hooks.example.com": [["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]],
        "internal.example.com": [["10.0.0.5"]],
        "mixed.example.com": [["93.184.216.34", "192.168.1.20"]],
        "metadata.example.com": [["169.254.169.254"]],
        "mapped.example.com": [["::ffff:127.0.0.1"]],
    }
)


def guard(allowlist: str = "") -> AddressGuard:
    return AddressGuard(Allowlist.parse(allowlist), RESOLVER)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://2130706433/hook", "loopback"),  # decimal 127.0.0.1
        ("http://0177.0.0.1/hook", "loopback"),  # octal
        ("http://0x7f.1/hook", "loopback"),  # hex, short form
        ("http://127.1/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://localhost./hook", "names this machine"),
        ("http://LOCALHOST/hook", "names this machine"),
        ("http://api.localhost/hook", "names this machine"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://10.1.2.3:8080/hook", "private"),
        ("http://internal.example.com/hook", "internal.example.com → 10.0.0.5 is private"),
        ("http://mixed.example.com/hook", "192.168.1.20 is private"),
        ("http://metadata.example.com/hook", "link-local"),
        ("http://mapped.example.com/hook", "loopback"),
        ("ftp://hooks.example.com/hook", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user:pw@hooks.example.com/hook", "credentials"),
    ],
)
async def test_intake_refuses_hostile_urls_with_a_clear_reason(url: str, reason: str) -> None:
    """Every private, loopback, metadata or odd-notation address is refused, saying why."""
    with pytest.raises(CallbackUrlRejected) as refused:
        await guard().check_url(url)
    assert reason in str(refused.value)


async def test_intake_accepts_a_public_name() -> None:
    """A name whose every address is public passes the intake check."""
    assert None is await guard().check_url("https://hooks.example.com/webhooks?x=1")


async def test_allowlist_opens_loopback_for_local_development() -> None:
    """An operator allow-list entry lets 127.0.0.1 through; other private ranges stay shut."""
    allowing = guard("127.0.0.1/32, receiver.internal")
    await allowing.check_url("http://127.0.0.1:9000/hook")
    await allowing.check_url("http://receiver.internal/hook")
    with pytest.raises(CallbackUrlRejected):
        await allowing.check_url("http://10.0.0.1/hook")


async def test_a_name_that_does_not_resolve_is_accepted_at_intake() -> None:
    """Resolution failing (perhaps for a while) never refuses a job at intake: the address is
    checked at every connect, where the failure is a retryable ``dns_error``."""
    assert None is await guard().check_url("http://nowhere.example.com/hook")
    with pytest.raises(HostNotResolved) as at_connect:
        await guard().allowed_addresses("nowhere.example.com", 80)
    assert "'nowhere.example.com' does not resolve" in str(at_connect.value)


async def test_a_resolver_that_hangs_does_not_hold_intake() -> None:
    """Intake waits for DNS at most its bound, then accepts; at connect time a hanging
    resolver becomes a clear refusal."""

    async def hanging(host: str, port: int) -> list[ipaddress.IPv4Address]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    slow = AddressGuard(Allowlist(), hanging, resolve_timeout_s=0.05, intake_resolve_timeout_s=0.05)
    assert None is await asyncio.wait_for(slow.check_url("http://slow.example.com/"), timeout=5)
    with pytest.raises(HostNotResolved) as refused:
        await asyncio.wait_for(slow.allowed_addresses("slow.example.com", 80), timeout=5)
    assert "did not resolve in time" in str(refused.value)


async def test_allowed_addresses_rechecks_at_connect_time() -> None:
    """The connect-time check resolves again: a name that turned private is refused."""
    rebinding = ScriptedResolver({"rebind.example.com": [["93.184.216.34"], ["127.0.0.1"]]})
    checker = AddressGuard(Allowlist(), rebinding)
    await checker.check_url("http://rebind.example.com/hook")
    with pytest.raises(CallbackUrlRejected) as refused:
        await checker.allowed_addresses("rebind.example.com", 80)
    assert "rebind.example.com → 127.0.0.1 is loopback" in str(refused.value)
    assert ["rebind.example.com", "rebind.example.com"] == rebinding.calls


async def test_allowed_addresses_returns_the_checked_addresses() -> None:
    """A public name gives back its addresses (the resolver's first first); a literal is
    checked without resolving."""
    first, *_ = await guard().allowed_addresses("hooks.example.com", 443)
    assert ipaddress.ip_address("93.184.216.34") == first
    assert [ipaddress.ip_address("127.0.0.1")] == await guard("127.0.0.0/8").allowed_addresses(
        "127.0.0.1", 80
    )
    with pytest.raises(CallbackUrlRejected):
        await guard().allowed_addresses("[::1]", 80)


async def test_system_resolver_reads_addresses_from_the_os() -> None:
    """The default resolver turns getaddrinfo's answer into address objects."""
    assert [ipaddress.ip_address("127.0.0.1")] == await system_resolver("127.0.0.1", 80)
