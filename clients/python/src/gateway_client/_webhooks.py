"""Verifying the gateway's webhooks with the reference ``standardwebhooks`` library."""

from __future__ import annotations

import json
from collections.abc import Mapping

from standardwebhooks import Webhook, WebhookVerificationError

from gateway_client._errors import InvalidWebhook
from gateway_client._models import Job, WebhookEvent, parse_time


class WebhookVerifier:
    """Checks a webhook's signature and timestamp (±5 minutes) with your signing secret.

    During a secret rotation the gateway signs with the new and the old secret; either one
    verifies. Deduplicate on ``event.id``: delivery is at least once.
    """

    def __init__(self, secret: str) -> None:
        try:
            self._webhook = Webhook(secret)
        except Exception as exc:  # the library raises several kinds for a malformed secret
            raise ValueError("not a webhook signing secret (whsec_…)") from exc

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> WebhookEvent:
        """The event, if the body and headers are the gateway's; ``InvalidWebhook`` otherwise."""
        try:
            self._webhook.verify(body, dict(headers), json_parse=False)
        except WebhookVerificationError as exc:
            raise InvalidWebhook(str(exc)) from None
        except (ValueError, TypeError, UnicodeDecodeError) as exc:  # malformed headers or body
            raise InvalidWebhook(f"malformed webhook: {type(exc).__name__}") from None
        try:
            event = json.loads(body)
        except ValueError:
            raise InvalidWebhook("the body is not JSON") from None
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict) or "id" not in data:
            raise InvalidWebhook("the body is not a gateway event")
        webhook_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id", "")
        return WebhookEvent(
            id=webhook_id,
            type=str(event.get("type", "")),
            timestamp=parse_time(event.get("timestamp")),
            job=Job.from_json(data),
            raw=event,
        )


def verify_webhook(secret: str, body: bytes | str, headers: Mapping[str, str]) -> WebhookEvent:
    """Verify one webhook: ``verify_webhook(secret, request_body, request_headers)``."""
    return WebhookVerifier(secret).verify(body, headers)
