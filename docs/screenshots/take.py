"""Take the README's console screenshots: ``uv run python docs/screenshots/take.py``.

Runs the whole product on loopback (the mock upstream, a receiver, the gateway), submits a few
jobs, and photographs the console in Debian's Chromium with Playwright.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from gateway.testing import CLIENT_KEY, live_stack

HERE = Path(__file__).parent
PROMPTS = [
    ("Mona Lisa puts on glasses with her hands.", {"order_id": "42"}),
    ("A red fox runs through fresh snow at dawn, slow motion.", {"order_id": "43"}),
    ("Waves crash on a lighthouse in a storm [mock:job_error]", {"order_id": "44"}),
    ("A paper boat drifts down a rainy street.", {"order_id": "45", "campaign": "autumn"}),
    ("Timelapse of a city skyline from day to night [mock:stuck_generating]", {"order_id": "46"}),
]


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_stack(
            Path(tmp) / "shots.db", delivery_schedule=(0.0, 0.2), delivery_jitter=0.0
        ) as stack,
    ):
        ids = [stack.submit(prompt=p, metadata=m) for p, m in PROMPTS[1:]]
        for job_id in ids[:3]:
            stack.wait_for_delivery(job_id, "delivered", timeout_s=60)
        # The one to look at: its receiver is down for the first attempt.
        stack.receiver.answers.extend([(503, "<h1>Service Unavailable</h1>")])
        ids.insert(0, stack.submit(prompt=PROMPTS[0][0], metadata=PROMPTS[0][1]))
        stack.wait_for_delivery(ids[0], "delivered", timeout_s=60)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            page: Page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(f"{stack.url}/console/signin")
            page.fill("#key", CLIENT_KEY)
            page.click("button[type=submit]")
            expect(page.locator("#job-rows")).to_contain_text(ids[0])
            page.screenshot(path=str(HERE / "jobs.png"))
            page.goto(f"{stack.url}/console/jobs/{ids[0]}")
            expect(page.locator("#job-status")).to_have_text("completed")
            page.wait_for_function("document.querySelector('video').readyState >= 2")
            page.screenshot(path=str(HERE / "job.png"), full_page=True)
            page.goto(f"{stack.url}/console/models")
            page.screenshot(path=str(HERE / "models.png"))
            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            phone.context.add_cookies(page.context.cookies())
            phone.goto(f"{stack.url}/console/jobs/{ids[0]}")
            phone.wait_for_function("document.querySelector('video').readyState >= 2")
            phone.screenshot(path=str(HERE / "job-phone.png"))
            browser.close()


if __name__ == "__main__":
    main()
