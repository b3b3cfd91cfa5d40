"""Checking webhooks with the independent ``standardwebhooks`` library."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def verify_at_its_timestamp(secret: str, body: bytes, headers: dict[str, str]) -> Any:
    """Verify a webhook signed under a fake clock: the library signs at the webhook's own
    timestamp and one of the sent signatures must match (``Webhook.verify`` would compare the
    timestamp with the real clock, which the fake clock has left behind)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = datetime.fromtimestamp(int(lowered["webhook-timestamp"]), tz=UTC)
    expected = Webhook(secret).sign(lowered["webhook-id"], timestamp, body.decode())
    assert expected in lowered["webhook-signature"].split(" ")
    return json.loads(body)
