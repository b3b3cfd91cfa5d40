"""The mock's video links: signed with Expires= (403 once expired or edited), and the video
scenarios — slow, truncated, redirected, mislabelled, not a video, huge, failing — that the
output copier is tested against."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mock_upstream.app import create_app
from mock_upstream.config import MockConfig
from mock_upstream.files import SAMPLE_MP4
from mock_upstream.testing import FakeClock, MockServer

PATH = "/v2/video/generations"
AUTH = {"Authorization": "Bearer test-key"}
BODY = {"model": "alibaba/happyhorse-1-0", "prompt": "A horse.", "duration": 5}
MIB = 1024 * 1024


class Mock:
    def __init__(self, server: MockServer, clock: FakeClock) -> None:
        self.server = server
        self.clock = clock
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def video_url(self, scenario: str | None = None) -> str:
        """A completed job's video link (the mock's clock moved past the completion)."""
        headers = {**AUTH, **({"X-Mock-Scenario": scenario} if scenario else {})}
        created = self.http.post(PATH, json=BODY, headers=headers)
        assert 200 == created.status_code, created.text
        self.clock.advance(10)
        done = self.http.get(PATH, params={"generation_id": created.json()["id"]}, headers=AUTH)
        assert "completed" == done.json()["status"]
        url: str = done.json()["video"]["url"]
        return url


@pytest.fixture
def mock() -> Iterator[Mock]:
    clock = FakeClock(1_000_000.0)
    with MockServer(create_app(MockConfig.fast(clock=clock, video_ttl_s=60.0))) as server:
        mock = Mock(server, clock)
        yield mock
        mock.http.close()


def test_links_are_signed_and_die_at_their_expiry(mock: Mock) -> None:
    url = mock.video_url()
    query = parse_qs(urlsplit(url).query)
    expires = int(query["Expires"][0])
    assert mock.clock() < expires <= mock.clock() + 60
    ok = mock.http.get(url)
    stretched = mock.http.get(url.replace(f"Expires={expires}", f"Expires={expires + 3600}"))
    unsigned = mock.http.get(url.split("?")[0])
    mock.clock.set(expires)
    expired = mock.http.get(url)
    assert (200, SAMPLE_MP4.read_bytes(), "video/mp4") == (
        ok.status_code,
        ok.content,
        ok.headers["content-type"],
    )
    assert [403, 403, 403] == [r.status_code for r in (stretched, unsigned, expired)]
    assert b"AccessDenied" in expired.content


def test_without_a_ttl_links_are_plain() -> None:
    clock = FakeClock(1_000_000.0)
    with MockServer(create_app(MockConfig.fast(clock=clock, video_ttl_s=None))) as server:
        mock = Mock(server, clock)
        url = mock.video_url()
        mock.http.close()
        clock.advance(10 * 365 * 86400)
        assert ("", 200) == (urlsplit(url).query, httpx.get(url).status_code)


def test_a_redirect_chain(mock: Mock) -> None:
    url = mock.video_url("video_redirect_3")
    hops = []
    response = mock.http.get(url)
    while response.status_code == 302:
        hops.append(response.headers["location"])
        response = mock.http.get(response.headers["location"])
    assert (3, 200, SAMPLE_MP4.read_bytes()) == (len(hops), response.status_code, response.content)
    assert "hop=3" in hops[-1]
    one = mock.http.get(mock.video_url("video_redirect"))
    assert 302 == one.status_code


def test_octet_stream_and_not_a_video(mock: Mock) -> None:
    octet = mock.http.get(mock.video_url("video_octet_stream"))
    html = mock.http.get(mock.video_url("video_not_video"))
    assert ("application/octet-stream", SAMPLE_MP4.read_bytes()) == (
        octet.headers["content-type"],
        octet.content,
    )
    assert ("video/mp4", b"<!DOCTYPE html>") == (html.headers["content-type"], html.content[:15])


def test_huge_files_are_generated_with_or_without_a_length(mock: Mock) -> None:
    with mock.http.stream("GET", mock.video_url("video_huge_2")) as sized:
        sized_bytes = b"".join(sized.iter_bytes())
        sized_length = sized.headers.get("content-length")
    with mock.http.stream("GET", mock.video_url("video_huge_chunked_0.5")) as chunked:
        chunked_size = sum(len(c) for c in chunked.iter_bytes())
        chunked_length = chunked.headers.get("content-length")
    assert (str(2 * MIB), 2 * MIB, b"ftyp") == (sized_length, len(sized_bytes), sized_bytes[4:8])
    assert (None, MIB // 2) == (chunked_length, chunked_size)


def test_a_truncated_download_ends_early(mock: Mock) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        mock.http.get(mock.video_url("video_truncated"))


def test_a_slow_download_trickles(mock: Mock) -> None:
    url = mock.video_url("video_slow_0.4")
    started = time.monotonic()
    response = mock.http.get(url)
    assert SAMPLE_MP4.read_bytes() == response.content
    assert time.monotonic() - started >= 0.4  # eight pieces, 0.05 s apart


def test_failing_downloads_then_the_file(mock: Mock) -> None:
    url = mock.video_url("video_500_2")
    assert [500, 500, 200] == [mock.http.get(url).status_code for _ in range(3)]


@pytest.mark.parametrize("name", ["video_redirect_1.5", "video_500_x", "video_bogus"])
def test_bad_video_scenarios_are_refused(mock: Mock, name: str) -> None:
    answer = mock.http.post(PATH, json=BODY, headers={**AUTH, "X-Mock-Scenario": name})
    assert 400 == answer.status_code
