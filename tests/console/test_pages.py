"""Console pages (in-process): what each shows, whose jobs, and that they call the same use
cases as the API (redeliver, replay)."""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.console.render import CONTENT_SECURITY_POLICY
from gateway.dev import inbox_routes
from gateway.domain.polling import DurationStats
from gateway.domain.upstream import Generation
from gateway.service.models import model_figures
from gateway.service.timeline import entries_from_history
from gateway.store import Store
from gateway.store.browse import ModelCount
from gateway.testing.fakes import AllowAllGuard, Clock, RecordingSender, ScriptedUpstream
from tests.console.conftest import Console, csrf_of
from tests.http.conftest import ADMIN_KEY, BOOTSTRAP_KEY, BOOTSTRAP_SECRET, api_settings

PAGES = ("/console/jobs", "/console/deliveries", "/console/models")


def rows(html: str) -> list[str]:
    """The job ids listed on a jobs page, in order."""
    return re.findall(r'<a class="mono" href="/console/jobs/(job_[a-z0-9]+)">', html)


def assert_no_inline_code(html: str) -> None:
    """Scripts only from files, no inline event handlers or styles (the CSP would block them)."""
    assert [] == re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert [] == re.findall(r"\son[a-z]+\s*=", html)
    assert [] == re.findall(r"\sstyle\s*=", html)


async def test_root_page_links_console_docs_and_metrics(console: Console) -> None:
    """``/`` is a page linking the console, the API documentation and the metrics."""
    response = await console.http.get("/")
    assert 200 == response.status_code
    for link in ('href="/console"', 'href="/schema"', 'href="/metrics"'):
        assert link in response.text
    assert CONTENT_SECURITY_POLICY == response.headers["content-security-policy"]


async def test_every_page_has_the_security_headers_and_no_inline_code(console: Console) -> None:
    """Each page (and the sign-in form) carries the strict CSP and no inline script or style."""
    signin = await console.http.get("/console/signin")
    assert CONTENT_SECURITY_POLICY == signin.headers["content-security-policy"]
    await console.sign_in()
    job_id = await console.submit(metadata={"order": "1"})
    await console.finish()
    for path in (*PAGES, f"/console/jobs/{job_id}", f"/console/jobs/{job_id}/live"):
        response = await console.http.get(path)
        assert 200 == response.status_code, path
        headers = response.headers
        assert CONTENT_SECURITY_POLICY == headers["content-security-policy"], path
        assert "script-src 'self'" in headers["content-security-policy"]
        assert ("nosniff", "DENY") == (
            headers["x-content-type-options"],
            headers["x-frame-options"],
        )
        assert_no_inline_code(response.text)
    assert_no_inline_code(signin.text)


async def test_a_client_sees_only_its_own_jobs(console: Console) -> None:
    """Another client's job is neither listed nor reachable (404 page), like the API."""
    other = await console.new_client()
    theirs = await console.submit(other["api_key"])
    mine = await console.submit()
    await console.sign_in()
    assert [mine] == rows((await console.http.get("/console/jobs")).text)
    assert [mine] == rows((await console.http.get(f"/console/jobs?client={other['id']}")).text)
    response = await console.http.get(f"/console/jobs/{theirs}")
    assert 404 == response.status_code
    assert "No such job" in response.text
    assert theirs not in response.text


async def test_the_operator_sees_every_client_and_can_pick_one(console: Console) -> None:
    """With the admin key: every client's jobs, a client picker, and one client's on demand."""
    other = await console.new_client("acme")
    theirs = await console.submit(other["api_key"])
    console.clock.advance(1)
    mine = await console.submit()
    await console.sign_in(ADMIN_KEY)
    page = (await console.http.get("/console/jobs")).text
    assert [mine, theirs] == rows(page)
    assert f'<option value="{other["id"]}"' in page
    assert [theirs] == rows((await console.http.get(f"/console/jobs?client={other['id']}")).text)
    assert 200 == (await console.http.get(f"/console/jobs/{theirs}")).status_code


async def test_filters_and_search(console: Console) -> None:
    """Status and model filters; search by job id, generation id and metadata value."""
    first = await console.submit(metadata={"order_id": "42", "note": "x"})
    await console.finish()  # first completes (generation id "gen_scripted_…")
    second = await console.submit(metadata={"order_id": "4200"})
    console.clock.advance(1)
    third = await console.submit(metadata={"order_id": "42%_"})
    await console.sign_in()

    async def listed(query: str) -> list[str]:
        return rows((await console.http.get(f"/console/jobs?{query}")).text)

    assert [third, second, first] == await listed("")
    assert [first] == await listed("status=completed")
    assert [third, second] == await listed("status=accepted")
    assert [third, second, first] == await listed("model=alibaba%2Fhappyhorse-1-0")
    assert [] == await listed("model=other%2Fmodel")
    assert [second] == await listed(f"q={second}")
    assert [first] == await listed("q=gen_scripted_000000001")
    assert [first] == await listed("q=42")  # a value exactly, not "4200"
    assert [third] == await listed("q=42%25_")  # LIKE wildcards are taken literally
    assert [] == await listed("q=order_id")  # keys are not values
    bad = await console.http.get("/console/jobs?status=nonsense")
    assert 400 == bad.status_code


async def test_job_page_shows_request_timeline_video_and_attempts(console: Console) -> None:
    """A completed job: its request, the timeline (accepted → submitted → upstream status with
    polls → completed → attempt with status code), the video element, the redeliver button."""
    job_id = await console.submit(prompt="A horse on a beach", metadata={"order_id": "7"})
    await console.finish(video_url="https://videos.test/horse.mp4")
    await console.sign_in()
    html = (await console.http.get(f"/console/jobs/{job_id}")).text
    assert "A horse on a beach" in html
    assert '<video id="video"' in html
    assert 'src="https://videos.test/horse.mp4"' in html
    assert 'id="redeliver"' in html
    titles = re.findall(r"<strong>([^<]+)</strong>", html.split('id="timeline"')[1])
    assert [
        "Accepted",
        "Submitting upstream",
        "Submitted upstream",
        "Upstream status: completed",
        "Completed",
        "Webhook attempt 1",
    ] == titles
    assert "after 1 poll" in html
    assert "HTTP 200" in html
    live = await console.http.get(f"/console/jobs/{job_id}/live")
    assert 'hx-trigger="every 1s"' not in live.text  # finished and delivered: nothing to follow


async def test_in_flight_jobs_update_live(console: Console) -> None:
    """While a job is in flight, the page and its list poll a fragment every second or two."""
    job_id = await console.submit()
    await console.sign_in()
    assert 'hx-trigger="every 1s"' in (await console.http.get(f"/console/jobs/{job_id}")).text
    assert 'hx-trigger="every 2s"' in (await console.http.get("/console/jobs")).text
    fragment = await console.http.get("/console/jobs/rows")
    assert [job_id] == rows(fragment.text)
    assert "<html" not in fragment.text


async def test_redeliver_from_the_console(console: Console) -> None:
    """The redeliver button sends the job's event again with the same webhook id."""
    job_id = await console.submit()
    await console.finish()
    await console.sign_in()
    token = await console.csrf()
    response = await console.http.post(
        f"/console/jobs/{job_id}/redeliver", data={"csrf_token": token}, follow_redirects=False
    )
    assert (303, f"/console/jobs/{job_id}?done=redelivered") == (
        response.status_code,
        response.headers["location"],
    )
    await console.gateway.worker.run_until_idle()  # type: ignore[union-attr]
    ids = [headers["webhook-id"] for _, _, headers in console.sender.sent]
    assert 2 == len(ids)
    assert ids[0] == ids[1]
    html = (await console.http.get(f"/console/jobs/{job_id}")).text
    assert [1, 1] == [  # the redelivery is the event's second attempt, not its first again
        html.count("<strong>Webhook attempt 1</strong>"),
        html.count("<strong>Webhook attempt 2</strong>"),
    ]


async def test_redeliver_of_an_unfinished_job_is_a_clear_page(console: Console) -> None:
    """Nothing to send yet: a 400 page saying so (the API's message), no webhook."""
    job_id = await console.submit()
    await console.sign_in()
    response = await console.http.post(
        f"/console/jobs/{job_id}/redeliver", data={"csrf_token": await console.csrf()}
    )
    assert 400 == response.status_code
    assert "not finished yet" in response.text


async def test_dead_letters_preview_and_replay(console: Console) -> None:
    """Dead deliveries are listed; a window previews how many would go; replay sends them."""
    console.sender.script.extend([500] * 8)
    job_id = await console.submit()
    await console.finish()
    worker = console.gateway.worker
    assert worker is not None
    for _ in range(10):
        console.clock.advance(40_000)
        await worker.run_until_idle()
    await console.sign_in()
    page = (await console.http.get("/console/deliveries")).text
    assert f'href="/console/jobs/{job_id}"' in page
    empty = await console.http.get(
        "/console/deliveries?since=2020-01-01T00:00&until=2020-01-02T00:00"
    )
    assert "<strong>0</strong> dead deliveries" in empty.text
    window = {"since": "2020-01-01T00:00", "until": "2090-01-01T00:00"}
    preview = await console.http.get("/console/deliveries", params=window)
    assert "<strong>1</strong> dead delivery in this window" in preview.text
    response = await console.http.post(
        "/console/deliveries/replay",
        data=window | {"csrf_token": csrf_of(preview.text)},
        follow_redirects=False,
    )
    assert (303, "/console/deliveries?replayed=1") == (
        response.status_code,
        response.headers["location"],
    )
    await worker.run_until_idle()
    deliveries = await console.gateway.runtime.store.deliveries.for_job(job_id)
    assert ["delivered"] == [d.state for d in deliveries]
    assert "No dead deliveries." in (await console.http.get("/console/deliveries")).text
    bad = await console.http.get("/console/deliveries?since=yesterday&until=today")
    assert 400 == bad.status_code


async def test_models_page_shows_runs_success_and_learned_times(console: Console) -> None:
    """Per model: jobs, success rate, and p50/p95 bars from the learned generation times."""
    await console.submit()
    await console.finish()
    store = console.gateway.runtime.store
    for seconds in (100.0, 110.0, 120.0, 130.0, 140.0):
        await store.counters.record_duration("alibaba/happyhorse-1-0|720p|5", seconds, now=1.0)
    await console.sign_in()
    html = (await console.http.get("/console/models")).text
    assert "alibaba/happyhorse-1-0" in html
    assert "<strong>1</strong> job" in html
    assert "<strong>100 %</strong>" in html
    assert "720p · 5 s" in html
    assert "120.0 s" in html  # p50 = the mean
    assert re.search(r'<rect class="p95" [^>]*width="100.00"', html)


def test_model_figures_quantiles() -> None:
    """p50 is the mean, p95 the mean + 1.645 standard deviations (normal distribution)."""
    stats = DurationStats()
    for seconds in (100.0, 110.0, 120.0, 130.0, 140.0):
        stats = stats.add(seconds)
    counts = [
        ModelCount(model="m", status="completed", jobs=3),
        ModelCount(model="m", status="failed", jobs=1),
        ModelCount(model="m", status="queued", jobs=2),
    ]
    (figures,) = model_figures(counts, {"m|720p|5": (stats.count, stats.mean_s, stats.m2)})
    assert (6, 3, 1, 0.75) == (
        figures.jobs,
        figures.completed,
        figures.failed,
        figures.success_rate,
    )
    (learned,) = figures.learned
    sigma = stats.estimate().stddev_s
    assert ("720p", "5", 5) == (learned.resolution, learned.duration, learned.samples)
    assert 120.0 == pytest.approx(learned.p50_s)
    assert 120.0 + 1.6449 * sigma == pytest.approx(learned.p95_s, rel=1e-3)


async def test_dev_inbox_page(tmp_path: Path) -> None:
    """In ``gateway dev`` the inbox is a page too: each webhook, its signature verdict, payload."""
    from gateway.domain.signing import webhook_headers

    settings = api_settings(tmp_path)
    received: collections.deque[dict[str, Any]] = collections.deque(maxlen=10)
    store = await Store.open(settings.database_url)
    app = create_app(
        settings,
        store=store,
        upstream=ScriptedUpstream(),
        sender=RecordingSender(),
        guard=AllowAllGuard(),
        clock=Clock(start=1_800_000_000.0),
        run_worker=False,
        extra_route_handlers=inbox_routes(BOOTSTRAP_SECRET, received),
    )
    body = b'{"type": "video.generation.completed", "data": {"id": "job_abc", "note": "<b>hi</b>"}}'
    import time

    async with AsyncTestClient(app=app) as http:
        good = webhook_headers([BOOTSTRAP_SECRET], "msg_good", int(time.time()), body)
        assert 200 == (await http.post("/dev/inbox", content=body, headers=good)).status_code
        bad = dict(good) | {"webhook-id": "msg_tampered"}
        assert 200 == (await http.post("/dev/inbox", content=body, headers=bad)).status_code
        assert 2 == len((await http.get("/dev/inbox")).json())
        form = await http.get("/console/inbox")  # not signed in: the sign-in page
        assert "Sign in" in form.text
        await http.post(
            "/console/signin",
            data={"key": settings.client_api_key, "csrf_token": csrf_of(form.text)},
        )
        page = await http.get("/console/inbox")
        assert 200 == page.status_code
        assert CONTENT_SECURITY_POLICY == page.headers["content-security-policy"]
        assert "signature valid" in page.text
        assert "signature INVALID" in page.text
        assert "msg_tampered" in page.text
        assert 'href="/console/jobs/job_abc"' in page.text
        assert "&lt;b&gt;hi&lt;/b&gt;" in page.text
        assert "<b>hi</b>" not in page.text
        assert 'href="/console/inbox"' in page.text
    await store.close()


class _Event(msgspec.Struct, frozen=True):
    """A stored history row as HISTORY_SPEC describes it."""

    kind: str
    at: float
    status: str
    polls: int = 0
    upstream_status: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)


def test_timeline_from_stored_history() -> None:
    """Each history row becomes an entry; status changes count the polls since the last one."""
    events = [
        _Event("accepted", 1.0, "accepted"),
        _Event("submitted", 2.0, "queued", data={"generation_id": "gen_1"}),
        _Event("upstream_status", 5.0, "queued", polls=1, upstream_status="queued"),
        _Event("upstream_status", 40.0, "generating", polls=4, upstream_status="generating"),
        _Event("upstream_status", 90.0, "completed", polls=9, upstream_status="completed"),
        _Event("completed", 90.0, "completed", polls=9, data={"video_url": "https://v"}),
        _Event(
            "delivery_attempted",
            91.0,
            "completed",
            polls=9,
            data={
                "delivery_id": "msg_1",
                "attempt": 1,
                "status_code": 503,
                "latency_ms": 12.5,
                "response_excerpt": "<b>down</b>",
                "decision": "retry",
            },
        ),
        _Event("redelivery_requested", 95.0, "completed", polls=9),
    ]
    entries = entries_from_history(events)
    assert [
        ("Accepted", None),
        ("Submitted upstream", None),
        ("Upstream status: queued", 1),
        ("Upstream status: generating", 3),
        ("Upstream status: completed", 5),
        ("Completed", None),
        ("Webhook attempt 1", None),
        ("Redelivery requested", None),
    ] == [(e.title, e.polls) for e in entries]
    attempt = entries[6]
    assert ("msg_1", 503, 12.5, "<b>down</b>", False) == (
        attempt.event_id,
        attempt.status_code,
        attempt.latency_ms,
        attempt.answer,
        attempt.ok,
    )
    assert "generation gen_1" == entries[1].detail


async def test_the_operator_replays_every_clients_dead_letters(console: Console) -> None:
    """With no client picked, the operator's preview and replay cover every client."""
    other = await console.new_client()
    console.sender.script.extend([500] * 16)
    jobs = [await console.submit(), await console.submit(other["api_key"])]
    await console.finish()
    worker = console.gateway.worker
    assert worker is not None
    # Both webhooks go to one host: once its circuit opens, one attempt per round (the probe).
    for _ in range(20):
        console.clock.advance(40_000)
        await worker.run_until_idle()
    await console.sign_in(ADMIN_KEY)
    window = {"since": "2020-01-01T00:00", "until": "2090-01-01T00:00"}
    preview = await console.http.get("/console/deliveries", params=window)
    assert "<strong>2</strong> dead deliveries in this window" in preview.text
    response = await console.http.post(
        "/console/deliveries/replay",
        data=window | {"csrf_token": csrf_of(preview.text)},
        follow_redirects=False,
    )
    assert "/console/deliveries?replayed=2" == response.headers["location"]
    await worker.run_until_idle()  # the host's circuit is half-open: one probe goes first,
    console.clock.advance(10)  # the other follows once the probe has closed it
    await worker.run_until_idle()
    store = console.gateway.runtime.store
    states = [d.state for job in jobs for d in await store.deliveries.for_job(job)]
    assert ["delivered", "delivered"] == states


async def test_a_job_without_stored_history_gets_a_timeline_from_its_row(console: Console) -> None:
    """Jobs stored before the history existed: the timeline is rebuilt from the job row and its
    attempts (the latest upstream status only)."""
    import sqlalchemy as sa

    from gateway.store.schema import job_events

    job_id = await console.submit()
    await console.finish()
    store = console.gateway.runtime.store
    async with store.db.write() as conn:
        await conn.execute(sa.delete(job_events).where(job_events.c.job_id == job_id))
    await console.sign_in()
    html = (await console.http.get(f"/console/jobs/{job_id}")).text
    titles = re.findall(r"<strong>([^<]+)</strong>", html.split('id="timeline"')[1])
    assert [
        "Accepted",
        "Submitted upstream",
        "Upstream status: completed",
        "Completed",
        "Webhook attempt 1",
    ] == titles


async def test_model_samples_add_up_to_the_generations_learned(console: Console) -> None:
    """Each finished generation is learned twice — under its kind (resolution, duration) and
    under its model as a whole (what the policy expects of a kind it has not seen) — but the
    page counts it once: the kinds' samples add up to the completed jobs, and the whole-model
    figure is a summary of the same generations, not another row of samples."""
    for duration in ("5", "5", "10"):
        await console.submit(duration=duration, resolution="720p")
        console.upstream.poll_script.append(
            Generation(id="g", status="completed", video_url="https://videos.test/v.mp4")
        )
    worker = console.gateway.worker
    assert worker is not None
    await worker.run_until_idle()
    console.clock.advance(15)
    await worker.run_until_idle()
    await console.sign_in()
    html = (await console.http.get("/console/models")).text
    table = html.split('class="learned"')[1]
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>(\d+)</td>", table)
    assert [("720p · 10 s", "1"), ("720p · 5 s", "2")] == [
        (kind.strip(), samples) for kind, samples in rows
    ]
    assert "3 completed" in html
    assert re.search(r'id="all-kinds"[^>]*>[^<]*<strong>3</strong> generations', html)


async def test_operational_events_and_job_less_dead_letters_are_listed(console: Console) -> None:
    """A job's event running out of attempts sends ``delivery.exhausted`` to the subscription
    asking for it, listed under Operational events; a dead delivery without a job (a test
    send) is a dead letter without a job link."""
    auth = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
    created = await console.http.post(
        "/v1/subscriptions",
        json={"target_url": "https://ops.test/n", "events": ["delivery.exhausted"]},
        headers=auth,
    )
    assert 201 == created.status_code, created.text
    console.sender.script.extend([500] * 8)
    await console.submit()
    await console.finish()
    worker = console.gateway.worker
    assert worker is not None
    for _ in range(10):
        console.clock.advance(40_000)
        await worker.run_until_idle()
    sent = [url for url, _, _ in console.sender.sent]
    assert "https://ops.test/n" == sent[-1]

    console.sender.script.extend([500] * 8)
    tested = await console.http.post(f"/v1/subscriptions/{created.json()['id']}/test", headers=auth)
    assert 202 == tested.status_code, tested.text
    for _ in range(10):
        console.clock.advance(40_000)
        await worker.run_until_idle()

    await console.sign_in()
    page = (await console.http.get("/console/deliveries")).text
    notices = page.split('id="notices"', 1)[1]
    assert "delivery.exhausted" in notices
    assert "https://ops.test/n" in notices
    assert tested.json()["event_id"] in page.split('id="notices"', 1)[0]
    assert "no job" in page


async def test_a_client_signing_with_ed25519_sees_its_public_keys(console: Console) -> None:
    """The deliveries page shows the client's v1a public keys, the same as the unauthenticated
    JWK set, both during a rotation; a client signing with HMAC only sees no such section."""
    other = await console.new_client("keys")
    await console.sign_in(other["api_key"])
    assert 'id="signing-keys"' not in (await console.http.get("/console/deliveries")).text

    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    changed = await console.http.patch(
        f"/v1/admin/clients/{other['id']}", json={"signing": "both"}, headers=admin
    )
    assert 200 == changed.status_code, changed.text
    rotated = await console.http.post(
        f"/v1/admin/clients/{other['id']}/rotate-signing-key", headers=admin
    )
    assert 200 == rotated.status_code, rotated.text
    published = (await console.http.get(f"/v1/signing-keys/{other['id']}")).json()["keys"]
    assert 2 == len(published)

    table = (await console.http.get("/console/deliveries")).text.split('id="signing-keys"')[1]
    shown = re.findall(r"whpk_[A-Za-z0-9+/=]+", table.split("</table>")[0])
    assert [key["whpk"] for key in published] == shown
