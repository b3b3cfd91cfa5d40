"""Stable signed links to kept videos: the URL a webhook announces, fetchable without an
``Authorization`` header (a ``<video>`` tag, Zapier, curl) until the retention ends.

Pure. The shape::

    /v1/outputs/{job_id}/{name}?expires={unix seconds}&sig={signature}

``name`` is ``video.<ext>`` (``video.mp4``, ``video.webm``, …) or ``poster.jpg``; ``expires`` is
the end of the video's retention (whole seconds), so the link is the same every time it is made
for a job — a retry, a redelivery or a replay of the stored payload days later carries a link
that still works. ``sig`` is base64url (no padding) of HMAC-SHA256 over
``"gateway-output-v1\\n{job_id}\\n{name}\\n{expires}"`` with a key every replica shares.

Verification answers one of three verdicts, checked in this order: ``tampered`` (no, malformed or
wrong signature, or a path or expiry that was changed: the HTTP answer is 403), ``expired`` (a
genuine link past its retention: 410), ``valid``. Several keys may verify (a key rotation: sign
with the first, accept any).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Literal
from urllib.parse import quote, urlencode

OUTPUT_ROUTE = "/v1/outputs/{job_id}/{name}"
_CONTEXT = b"gateway-output-v1"
_NAME = re.compile(r"^(video\.[a-z0-9]{2,5}|poster\.jpg)$")
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_SIG = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes, base64url without padding

LinkVerdict = Literal["valid", "tampered", "expired"]


def _signature(key: bytes, job_id: str, name: str, expires: int) -> str:
    message = b"\n".join((_CONTEXT, job_id.encode(), name.encode(), str(expires).encode()))
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def output_path(job_id: str, name: str) -> str:
    if not _JOB_ID.match(job_id) or not _NAME.match(name):
        raise ValueError(f"no output link for {job_id!r}/{name!r}")
    return OUTPUT_ROUTE.format(job_id=quote(job_id), name=quote(name))


def signed_output_link(base_url: str, key: bytes, job_id: str, name: str, expires: int) -> str:
    """The absolute link (``base_url`` is the gateway's public origin, e.g.
    ``https://gateway.example.com``) to ``name`` of ``job_id``, valid until ``expires``."""
    if not key:
        raise ValueError("an output link needs a signing key")
    query = urlencode({"expires": expires, "sig": _signature(key, job_id, name, expires)})
    return f"{base_url.rstrip('/')}{output_path(job_id, name)}?{query}"


def verify_output_link(
    keys: Sequence[bytes],
    job_id: str,
    name: str,
    expires: str | None,
    sig: str | None,
    *,
    now: float,
) -> LinkVerdict:
    """Judge a request for ``/v1/outputs/{job_id}/{name}?expires=…&sig=…`` at ``now``."""
    if not expires or not sig or not expires.isdigit() or len(expires) > 12:
        return "tampered"
    if not _SIG.match(sig) or not _JOB_ID.match(job_id) or not _NAME.match(name):
        return "tampered"
    when = int(expires)
    if not any(
        hmac.compare_digest(_signature(key, job_id, name, when), sig) for key in keys if key
    ):
        return "tampered"
    if now >= when:
        return "expired"
    return "valid"
