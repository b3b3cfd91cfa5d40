"""The guarded transport: what it hands the inner (standard) transport — the checked address,
the URL's Host, the TLS server name — what it refuses before anything is connected, and how it
keeps TLS connections apart per host name."""

from __future__ import annotations

import asyncio
import shutil
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.delivery.guard import AddressGuard
from gateway.delivery.sender import WebhookSender
from gateway.delivery.transport import BlockedAddress, GuardedTransport, ResolutionFailed
from gateway.domain.addresses import Allowlist
from gateway.domain.delivery import AttemptResult
from tests.delivery.receiver import Receiver, ScriptedResolver, answer, response_head, self_signed

BODY = b'{"type": "video.generation.completed"}'
HEADERS = {"content-type": "application/json", "webhook-id": "msg_1"}
LOOPBACK = Allowlist.parse("127.0.0.1/32")
RESOLVER_SCRIPT = {
    "hooks.example.com": [["93.184.216.34"]],
    "other.example.com": [["93.184.216.34"]],  # the same address as hooks.example.com
    "v6.example.com": [["2606:2800:220:1:248:1893:25c8:1946"]],
    "internal.example.com": [["10.0.0.5"]],
    "mixed.example.com": [["93.184.216.34", "127.0.0.1"]],
}


async def send(sender: WebhookSender, url: str) -> AttemptResult:
    return await asyncio.wait_for(sender.send(url, BODY, HEADERS), timeout=5.0)


class Inner(httpx.MockTransport):
    """Stands for httpx.AsyncHTTPTransport: records what it is asked to send, and closing."""

    def __init__(self, number: int, seen: list[tuple[int, httpx.Request]]) -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            seen.append((number, request))
            return httpx.Response(200, content=b"ok")

        super().__init__(handler)
        self.number = number
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


class Recorder:
    """The ``inner`` factory: makes numbered ``Inner`` transports and remembers them."""

    def __init__(self) -> None:
        self.made: list[Inner] = []
        self.seen: list[tuple[int, httpx.Request]] = []

    def __call__(self) -> httpx.AsyncBaseTransport:
        inner = Inner(len(self.made), self.seen)
        self.made.append(inner)
        return inner

    @property
    def requests(self) -> list[httpx.Request]:
        return [request for _number, request in self.seen]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    guard = AddressGuard(Allowlist(), ScriptedResolver(RESOLVER_SCRIPT))
    transport = GuardedTransport(guard, limits=httpx.Limits(), inner=recorder, max_tls_hosts=2)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as http:
        yield http


async def test_the_request_goes_to_the_checked_address_with_the_urls_host(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    """The inner transport is asked for the checked IP; Host, path, query and body are the
    callback's, and plain HTTP carries no TLS server name."""
    response = await client.post(
        "http://hooks.example.com:8080/hook?tenant=a", content=BODY, headers=HEADERS
    )
    assert (200, b"ok") == (response.status_code, response.content)
    [sent] = recorder.requests
    assert "http://93.184.216.34:8080/hook?tenant=a" == str(sent.url)
    assert "hooks.example.com:8080" == sent.headers["host"]
    assert HEADERS.items() <= dict(sent.headers).items()
    assert BODY == await sent.aread()
    assert "sni_hostname" not in sent.extensions
    assert "timeout" in sent.extensions  # the client's extensions are passed on


async def test_https_sets_the_tls_server_name_to_the_urls_host(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    """Over HTTPS the ``sni_hostname`` extension names the URL's host, so the certificate is
    checked against it although the connection goes to an address."""
    await client.post("https://hooks.example.com/hook", content=BODY)
    [sent] = recorder.requests
    assert ("https://93.184.216.34/hook", "hooks.example.com") == (
        str(sent.url),
        sent.headers["host"],
    )
    assert "hooks.example.com" == sent.extensions["sni_hostname"]


async def test_ipv6_addresses_are_bracketed(client: httpx.AsyncClient, recorder: Recorder) -> None:
    """A name resolving to IPv6 is requested at the bracketed literal; a literal IPv6 URL keeps
    its address and port, and an address literal over HTTPS gets no server name."""
    await client.post("https://v6.example.com:8443/hook")
    await client.post("https://[2606:2800:220:1::1]:8443/hook")
    by_name, literal = recorder.requests
    assert "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/hook" == str(by_name.url)
    assert ("v6.example.com:8443", "v6.example.com") == (
        by_name.headers["host"],
        by_name.extensions["sni_hostname"],
    )
    assert "https://[2606:2800:220:1::1]:8443/hook" == str(literal.url)
    assert "[2606:2800:220:1::1]:8443" == literal.headers["host"]
    assert "sni_hostname" not in literal.extensions


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://internal.example.com/hook", "internal.example.com → 10.0.0.5 is private"),
        ("https://mixed.example.com/hook", "mixed.example.com → 127.0.0.1 is loopback"),
        ("http://127.0.0.1:9000/hook", "127.0.0.1 is loopback"),
        ("http://[::ffff:169.254.169.254]/hook", "link-local"),
    ],
)
async def test_a_forbidden_address_is_refused_before_any_connection(
    client: httpx.AsyncClient, recorder: Recorder, url: str, reason: str
) -> None:
    """A name resolving to a forbidden address (one of several is enough) raises
    ``BlockedAddress`` — a transport error, not a connect error — and the inner transport is
    never asked for anything."""
    with pytest.raises(BlockedAddress) as refused:
        await client.post(url, content=BODY)
    assert reason in str(refused.value)
    assert not isinstance(refused.value, httpx.ConnectError)
    assert [] == recorder.seen


async def test_a_name_that_does_not_resolve_is_a_connect_error_of_its_own_type(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    """No address: ``ResolutionFailed``, an ``httpx.ConnectError``; nothing is sent."""
    with pytest.raises(ResolutionFailed) as failed:
        await client.post("https://gone.example.com/hook")
    assert isinstance(failed.value, httpx.ConnectError)
    assert "'gone.example.com' does not resolve" in str(failed.value)
    assert [] == recorder.seen


async def test_the_sender_classifies_the_refusal_by_type(recorder: Recorder) -> None:
    """Through the sender the refusal is ``blocked_address`` and the failure to resolve
    ``dns_error``; the inner transport saw nothing."""
    guard = AddressGuard(Allowlist(), ScriptedResolver(RESOLVER_SCRIPT))
    transport = GuardedTransport(guard, limits=httpx.Limits(), inner=recorder)
    sender = WebhookSender(guard, transport=transport)
    try:
        blocked = await send(sender, "https://internal.example.com/hook")
        unresolved = await send(sender, "https://gone.example.com/hook")
    finally:
        await sender.aclose()
    assert ("blocked_address", False) == (blocked.error, blocked.connect_failed)
    assert "10.0.0.5 is private" in blocked.response_excerpt
    assert ("dns_error", True) == (unresolved.error, unresolved.connect_failed)
    assert [] == recorder.seen


async def test_tls_pools_are_per_host_name_and_plain_http_shares_one(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    """Two names on one address never share a TLS pool (the server name is fixed per
    connection); plain HTTP to both goes through one pool, Host set per request."""
    await client.post("https://hooks.example.com/a")
    await client.post("https://other.example.com/b")
    await client.post("https://hooks.example.com/c")
    await client.post("http://hooks.example.com/d")
    await client.post("http://other.example.com/e")
    pool = {request.url.path: number for number, request in recorder.seen}
    assert pool["/a"] == pool["/c"] != pool["/b"]
    assert pool["/d"] == pool["/e"] not in {pool["/a"], pool["/b"]}
    host = {request.url.path: request.headers["host"] for request in recorder.requests}
    assert ("hooks.example.com", "other.example.com") == (host["/d"], host["/e"])
    assert {"93.184.216.34"} == {request.url.host for request in recorder.requests}


async def test_idle_tls_pools_beyond_the_limit_are_closed(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    """With room for two TLS host names, a third closes the least recently used idle pool;
    a pool whose response is still open is kept."""
    async with client.stream("POST", "https://hooks.example.com/open") as still_open:
        await client.post("https://other.example.com/x")
        await client.post("https://v6.example.com/x")
        plain, hooks, other, v6 = recorder.made
        assert (False, True, False) == (hooks.closed, other.closed, v6.closed)
        await still_open.aread()
    await client.post("https://other.example.com/y")  # a third name again: hooks is idle now
    assert (True, False) == (hooks.closed, v6.closed)
    assert not plain.closed
    await client.aclose()
    assert all(inner.closed for inner in recorder.made)


# Real sockets: a TLS connection kept alive for one name is not reused for another name that
# resolves to the same address.


async def keep_alive(writer: asyncio.StreamWriter) -> None:
    """Answers, then keeps the connection open (the client pools it)."""
    writer.write(response_head(200, [("content-length", "2")]) + b"ok")
    await writer.drain()
    await asyncio.Event().wait()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_a_tls_connection_for_one_name_is_not_reused_for_another(tmp_path: Path) -> None:
    """``a.test`` and ``b.test`` both resolve to the receiver; its certificate names only
    ``a.test``. With a connection to ``a.test`` open in the pool, ``b.test`` still makes its own
    TLS handshake and fails the certificate check, instead of riding on ``a.test``'s."""
    cert, key = self_signed(tmp_path, "a.test")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    receiver = await Receiver(keep_alive, ssl_context=server_context).start()
    resolver = ScriptedResolver({"a.test": [["127.0.0.1"]], "b.test": [["127.0.0.1"]]})
    guard = AddressGuard(LOOPBACK, resolver)
    transport = GuardedTransport(
        guard,
        limits=httpx.Limits(max_connections=4),
        ssl_context=ssl.create_default_context(cafile=str(cert)),
    )
    sender = WebhookSender(guard, transport=transport, timeout_s=2.0)
    try:
        first = await send(sender, receiver.url(host="a.test", scheme="https"))
        second = await send(sender, receiver.url(host="b.test", scheme="https"))
    finally:
        await sender.aclose()
        await receiver.close()
    assert (200, "ok") == (first.status_code, first.response_excerpt)
    assert (None, "connect_error") == (second.status_code, second.error)
    assert "CERTIFICATE_VERIFY_FAILED" in second.response_excerpt
    assert [f"a.test:{receiver.port}"] == [seen.headers["host"] for seen in receiver.requests]
    assert 1 == receiver.connections


async def test_a_get_goes_out_without_a_body() -> None:
    """Through the real pool, a GET (a video download) carries no body and no
    ``Transfer-Encoding``, and a POST its exact bytes with their length."""
    receiver = await Receiver(answer(200, b"ok")).start()
    transport = GuardedTransport(AddressGuard(LOOPBACK), limits=httpx.Limits(max_connections=2))
    try:
        for request in (
            httpx.Request("GET", receiver.url(path="/video.mp4")),
            httpx.Request("POST", receiver.url(), content=BODY, headers=HEADERS),
        ):
            response = await transport.handle_async_request(request)
            await response.aread()
            await response.aclose()
    finally:
        await transport.aclose()
        await receiver.close()
    get, post = receiver.requests
    assert ("GET", b"", None, None) == (
        get.method,
        get.body,
        get.headers.get("transfer-encoding"),
        get.headers.get("content-length"),
    )
    assert ("POST", BODY, str(len(BODY)), None) == (
        post.method,
        post.body,
        post.headers.get("content-length"),
        post.headers.get("transfer-encoding"),
    )
