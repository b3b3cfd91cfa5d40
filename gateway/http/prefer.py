"""The ``Prefer`` request header (RFC 7240): ``wait=N`` asks to hold the answer up to N seconds.

Preferences the gateway does not know, and a ``wait`` that is not a non-negative number, are
ignored (as the RFC says); the applied wait is capped by ``GATEWAY_PREFER_WAIT_MAX_S`` and echoed
in ``Preference-Applied``.
"""

from __future__ import annotations

import math


def requested_wait(header: str | None) -> float | None:
    """The ``wait`` preference in seconds, or None when there is none (or it is unreadable)."""
    if not header:
        return None
    for preference in header.split(","):
        name, _, value = preference.split(";", 1)[0].strip().partition("=")
        if name.strip().lower() != "wait":
            continue
        try:
            seconds = float(value.strip().strip('"'))
        except ValueError:
            return None
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def applied_wait(header: str | None, cap_s: float) -> int | None:
    """Whole seconds to hold the request (``wait`` capped), or None when no wait was asked."""
    seconds = requested_wait(header)
    if seconds is None:
        return None
    return int(min(seconds, cap_s))
