"""The mock's signed video links, like a CDN's: ``/files/<id>.mp4?Expires=<unix>&Signature=…``.

The signature is an HMAC of the file name and the expiry with the mock's own secret (random per
mock), so a link cannot be stretched by editing ``Expires``. Once the mock's clock reaches
``Expires`` the link answers 403, as CloudFront and S3 answer a dead signed URL.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Literal
from urllib.parse import urlencode


def _signature(secret: bytes, name: str, expires: int) -> str:
    return hmac.new(secret, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def video_link(base_url: str, name: str, *, secret: bytes, expires_at: float | None) -> str:
    """``{base_url}/files/{name}``, signed until ``expires_at`` (None: a plain, eternal link)."""
    url = f"{base_url}/files/{name}"
    if expires_at is None:
        return url
    expires = math.ceil(expires_at)
    query = urlencode({"Expires": expires, "Signature": _signature(secret, name, expires)})
    return f"{url}?{query}"


def check_link(
    name: str, expires: str | None, signature: str | None, *, secret: bytes, now: float
) -> Literal["ok", "bad_signature", "expired"]:
    if not expires or not signature or not expires.isdigit():
        return "bad_signature"
    if not hmac.compare_digest(_signature(secret, name, int(expires)), signature):
        return "bad_signature"
    return "expired" if now >= int(expires) else "ok"
