"""The mock's memory: its jobs (with their lifecycle on the injected clock) and its journal."""

from __future__ import annotations

import random
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Any

from mock_upstream.config import MockConfig
from mock_upstream.links import video_link
from mock_upstream.scenarios import Scenario

_ID_ALPHABET = string.ascii_letters + string.digits + "_-"
REDACTED = "[redacted]"
_WORDS = ("queued", "generating", "completed", "error")
# Words some models' documented examples show, outside the schema's enum.
_OTHER_WORDS = ("waiting", "active", "succeeded", "failed")


@dataclass
class MockJob:
    id: str
    body: dict[str, Any]
    scenario: Scenario
    created_at: float
    generating_at: float
    done_at: float
    polls: int = 0
    downloads: int = 0  # requests for the video file

    def status(self, now: float) -> str:
        words = _OTHER_WORDS if self.scenario.other_status_words else _WORDS
        if now < self.generating_at:
            return words[0]
        if self.scenario.stuck or now < self.done_at:
            return words[1]
        return words[3] if self.scenario.job_error else words[2]

    def view(
        self,
        now: float,
        base_url: str,
        *,
        video_secret: bytes = b"",
        video_ttl_s: float | None = None,
    ) -> dict[str, Any]:
        status = self.status(now)
        answer: dict[str, Any] = {"id": self.id, "status": status}
        if status in ("completed", "succeeded"):
            duration = self.body.get("duration", 5)
            seconds = duration if isinstance(duration, int) else 5
            credits = 126_000 * seconds // 5
            expires_at = None if video_ttl_s is None else self.done_at + video_ttl_s
            url = video_link(base_url, f"{self.id}.mp4", secret=video_secret, expires_at=expires_at)
            answer["video"] = {"url": url}
            answer["meta"] = {"usage": {"credits_used": credits, "usd_spent": credits / 2_100_000}}
        elif status in ("error", "failed"):
            if self.scenario.job_error == "detail":
                answer["error"] = {
                    "detail": [
                        {
                            "loc": ["body", "image_url"],
                            "msg": "image could not be fetched",
                            "type": "value_error",
                        }
                    ]
                }
            else:
                answer["error"] = {
                    "name": "GenerationError",
                    "message": "The generation failed: the content policy rejected the input.",
                }
        return answer


@dataclass
class MockState:
    config: MockConfig
    jobs: dict[str, MockJob] = field(default_factory=dict)
    journal: list[dict[str, Any]] = field(default_factory=list)
    rng: random.Random = field(init=False)
    video_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.config.seed)

    def reset(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.journal.clear()
            self.rng = random.Random(self.config.seed)

    def new_job(
        self, body: dict[str, Any], scenario: Scenario, *, vendor: str | None = None
    ) -> MockJob:
        with self.lock:
            job_id = "".join(self.rng.choice(_ID_ALPHABET) for _ in range(21))
            now = self.config.clock()
            scale = self.config.scale(body.get("model"), vendor, body.get("duration"))
            spread = self.config.spread_s * scale
            queued = max(0.0, self.config.queued_s * scale * (0.5 + self.rng.random()))
            generating = max(0.1, self.rng.gauss(self.config.generating_s * scale, spread))
            job = MockJob(
                id=job_id,
                body=body,
                scenario=scenario,
                created_at=now,
                generating_at=now + queued,
                done_at=now + queued + generating,
            )
            self.jobs[job_id] = job
            return job

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.journal.append(entry)


def redact_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers for the journal, the API key replaced (it is a secret)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in {"authorization", "cookie", "x-api-key"}:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {REDACTED}".strip() if value else ""
        out[name] = value
    return out
