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

    @classmethod
    def realistic(cls, **changes: Any) -> MockConfig:
        """About 150 s from submission to a finished video, like the seed's two runs."""
        return replace(cls(), **changes)

    @classmethod
    def fast(cls, **changes: Any) -> MockConfig:
        """A whole lifecycle within about 3 seconds (tests, ``gateway dev``)."""
        return replace(cls(queued_s=0.5, generating_s=2.0, spread_s=0.2), **changes)

    def with_(self, **changes: Any) -> MockConfig:
        return replace(self, **changes)
