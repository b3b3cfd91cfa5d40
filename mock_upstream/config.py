"""How the mock behaves: timings, auth, strictness, the clock and the seed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class MockConfig:
    """``queued_s`` then ``generating_s`` (± ``spread_s``, seeded) from submission to completion."""

    expected_key: str | None = None  # None: any non-empty Bearer key is accepted
    strict: bool = False  # refuse contract deviations with the upstream's 400
    queued_s: float = 20.0
    generating_s: float = 130.0
    spread_s: float = 15.0
    clock: Callable[[], float] = field(default=time.time, repr=False)
    seed: int = 0
    default_scenario: str | None = None
    hang_s: float = 300.0  # how long a "hang" scenario holds a request open (bounded)
    by_family: bool = False  # scale the timings by the model's family (realistic timings)
    # A completed job's video link is signed with Expires= this long after completion and
    # answers 403 after that (None: plain links that never expire).
    video_ttl_s: float | None = 3600.0

    @classmethod
    def realistic(cls, **changes: Any) -> MockConfig:
        """About 150 s for HappyHorse, like the seed's two runs; other families take from under
        a minute (Runway, Seedance) to several (Kling, Hailuo, Sora), longer videos longer."""
        return replace(cls(by_family=True), **changes)

    @classmethod
    def fast(cls, **changes: Any) -> MockConfig:
        """A whole lifecycle within about 3 seconds (tests, ``gateway dev``)."""
        return replace(cls(queued_s=0.5, generating_s=2.0, spread_s=0.2), **changes)

    def with_(self, **changes: Any) -> MockConfig:
        return replace(self, **changes)

    def scale(self, model: object, vendor: str | None, duration: object) -> float:
        """How much longer than the base timings a generation of this model takes."""
        if not self.by_family:
            return 1.0
        factor = FAMILY_FACTORS.get(vendor or "", 1.0)
        name = model.lower() if isinstance(model, str) else ""
        if any(word in name for word in ("fast", "turbo", "flash", "lite", "distill")):
            factor *= 0.5
        elif any(word in name for word in ("pro", "master", "ultra")):
            factor *= 1.3
        if isinstance(duration, int | float) and not isinstance(duration, bool) and duration > 0:
            factor *= min(3.0, max(0.6, float(duration) / 5.0)) ** 0.5
        return factor


# Generation time relative to HappyHorse (about 150 s), by vendor: plausible, not measured.
FAMILY_FACTORS = {
    "Alibaba Cloud": 1.0,
    "Kling AI": 1.8,
    "Google": 0.6,
    "OpenAI": 1.5,
    "MiniMax": 1.6,
    "ByteDance": 0.5,
    "Runway": 0.35,
    "PixVerse": 0.4,
    "Luma AI": 0.7,
    "Black Forest Labs": 0.8,
    "Tencent": 1.4,
}
