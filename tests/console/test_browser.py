"""The console in a real browser (headless Chromium via Playwright): the whole journey, and
hostile values from callers that must never run.

Skipped with the reason when /usr/bin/chromium is missing, except under ``CI=true`` (``.ci/run``
installs it), where a missing browser fails.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import ADMIN_KEY, CLIENT_KEY, live_stack
from gateway.testing import LiveStack as Stack

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install chromium); browser tests run in CI",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright  # noqa: E402

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


# Two attempts per webhook (two 500s make a dead letter), no jitter, quiet logs.
BROWSER_SETTINGS = {
    "poll_interval_s": 0.4,
    "delivery_schedule": (0.0, 0.2),
    "delivery_jitter": 0.0,
    "log_level": "WARNING",
}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with live_stack(tmp_path / "browser.db", **BROWSER_SETTINGS) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    yield page
    context.close()


def sign_in(page: Page, stack: Stack, key: str = CLIENT_KEY) -> None:
    page.goto(f"{stack.url}/console")
    expect(page).to_have_url(f"{stack.url}/console/signin")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{stack.url}/console/jobs")


def test_the_console_journey(page: Page, stack: Stack) -> None:
    """Sign in, submit through the API, watch the job complete with its video, redeliver and
    see the new attempt, replay a dead delivery, sign out."""
    sign_in(page, stack)
    expect(page.locator("#job-rows")).to_contain_text("No jobs")
    job_id = stack.submit(metadata={"order_id": "42"})
    # The list updates by itself (htmx polls its rows).
    page.locator(f"a[href='/console/jobs/{job_id}']").click()
    expect(page.locator("#job-status")).to_have_text("completed")
    expect(page.locator("video#video")).to_have_count(1)
    assert page.locator("video#video").get_attribute("src", timeout=TIMEOUT_MS)
    attempts = page.locator("#timeline li.delivery_attempted")
    expect(attempts).to_have_count(1)
    expect(attempts.first).to_contain_text("HTTP 200")
    for title in ("Accepted", "Submitted upstream", "Upstream status: completed", "Completed"):
        expect(page.locator("#timeline")).to_contain_text(title)

    page.click("#redeliver")
    expect(page.locator(".flash.good")).to_contain_text("Redelivery requested")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(1)).to_contain_text("HTTP 200")
    assert 2 == len(stack.receiver.received)

    # A receiver that fails every attempt: the delivery dies; then it recovers and we replay.
    stack.receiver.answers.extend([(500, "down"), (500, "down")])
    dead_job = stack.submit()
    stack.wait_for_delivery(dead_job, "dead")
    page.click("nav >> text=Deliveries")
    expect(page.locator(f"a[href='/console/jobs/{dead_job}']")).to_be_visible()
    page.fill("#since", "2020-01-01T00:00:00")
    page.fill("#until", "2090-01-01T00:00:00")
    page.click("#preview")
    expect(page.locator("#preview-count")).to_contain_text("1 dead delivery in this window")
    page.click("#replay")
    expect(page.locator("#replayed")).to_have_text("1 dead delivery sent again.")
    stack.wait_for_delivery(dead_job, "delivered")
    page.goto(f"{stack.url}/console/jobs/{dead_job}")
    expect(page.locator("#timeline li.delivery_attempted")).to_have_count(3)

    page.click("#signout")
    expect(page).to_have_url(f"{stack.url}/console/signin")
    page.goto(f"{stack.url}/console/jobs")
    expect(page).to_have_url(f"{stack.url}/console/signin")


XSS = "<script>window.__xss='script'</script>"
BREAK_DOUBLE = '"><img src=x onerror="window.__xss=\'img\'">'
BREAK_SINGLE = "'><svg onload=\"window.__xss='svg'\"></svg>"
DIALOG = "<img src=x onerror=alert(1)><script>alert(2)</script>"
PAYLOADS = (XSS, BREAK_DOUBLE, BREAK_SINGLE, DIALOG)


def test_nothing_callers_send_ever_runs(page: Page, stack: Stack) -> None:
    """Scripts and attribute-breaking payloads in the prompt, metadata, the callback URL, the
    receiver's answer and the search box are shown as text: no flag is set, no dialog opens,
    and every page carries the strict Content-Security-Policy."""
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    answer = "".join(PAYLOADS)
    stack.receiver.answers.extend([(500, answer), (500, answer)])
    job_id = stack.submit(
        prompt="".join(PAYLOADS),
        metadata={f"k{i}": payload for i, payload in enumerate(PAYLOADS)}
        | {BREAK_DOUBLE[:60]: "key"},
        callback_url=stack.hook_url + "?" + "&".join(f"p{i}={p}" for i, p in enumerate(PAYLOADS)),
    )
    stack.wait_for_delivery(job_id, "dead")
    sign_in(page, stack)

    def check(path: str) -> Any:
        response = page.goto(f"{stack.url}{path}")
        assert response is not None
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, path
        assert "unsafe-inline" not in policy
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") is None, path
        return page

    check(f"/console/jobs/{job_id}")
    timeline = page.locator("#timeline")
    expect(timeline.locator("pre.answer").first).to_contain_text(XSS)
    expect(page.locator(".prompt-text")).to_contain_text(BREAK_DOUBLE)
    expect(page.locator("aside")).to_contain_text("onerror=alert(1)")
    check("/console/jobs")
    expect(page.locator("#job-rows")).to_contain_text("k0=<script>")
    check("/console/deliveries")
    check("/console/jobs?q=" + re.sub(r"[#&]", "", BREAK_DOUBLE + XSS))
    expect(page.locator("input[name=q]")).to_have_value(BREAK_DOUBLE + XSS)
    check("/console/jobs?status=" + BREAK_SINGLE)
    check("/console/models")
    page.goto(f"{stack.url}/console/jobs/{job_id}")  # and let the page's own polling run a while
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__xss") is None
    assert [] == dialogs


def test_the_operator_picks_a_client(page: Page, stack: Stack) -> None:
    """The admin key signs in as the operator: every client's jobs, a picker to narrow them."""
    job_id = stack.submit()
    sign_in(page, stack, ADMIN_KEY)
    expect(page.locator(f"a[href='/console/jobs/{job_id}']")).to_be_visible()
    page.select_option("#client-picker", "cl_bootstrap")
    page.click(".picker button")
    expect(page).to_have_url(re.compile(r"client=cl_bootstrap"))
    expect(page.locator(f"a[href='/console/jobs/{job_id}']")).to_be_visible()


@pytest.mark.parametrize("key", [CLIENT_KEY, ADMIN_KEY], ids=["client", "operator"])
def test_the_deliveries_table_fits_a_1280_pixel_window(page: Page, stack: Stack, key: str) -> None:
    """At 1280 x 800 the dead deliveries' table shows every column, its last one (Created)
    included, without scrolling sideways: for a client and for the operator (one more column),
    with a realistic long callback URL and a receiver's error answer."""
    page.set_viewport_size({"width": 1280, "height": 800})
    stack.receiver.answers.extend([(500, "upstream down"), (500, "upstream down")])
    long_url = stack.hook_url + "?zap=" + "a1b2c3d4e5" * 6 + "&step=send_video_ready_hook"
    job_id = stack.submit(callback_url=long_url)
    stack.wait_for_delivery(job_id, "dead")
    sign_in(page, stack, key)
    page.goto(f"{stack.url}/console/deliveries")
    expect(page.locator(f"a[href='/console/jobs/{job_id}']")).to_be_visible()
    box = page.locator(".scroll").bounding_box()
    last = page.locator(".scroll thead th").last.bounding_box()
    cell = page.locator(".scroll tbody tr td").last.bounding_box()
    assert box is not None
    assert last is not None
    assert cell is not None
    assert ("Created", False) == (
        page.locator(".scroll thead th").last.inner_text().strip().capitalize(),
        page.evaluate(
            "() => { const s = document.querySelector('.scroll');"
            " return s.scrollWidth > s.clientWidth; }"
        ),
    )
    right = box["x"] + box["width"]
    assert [True, True, True] == [
        last["x"] + last["width"] <= right,
        cell["x"] + cell["width"] <= right,
        right <= 1280,
    ], (box, last, cell)
