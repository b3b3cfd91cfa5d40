"""A typed client for the video webhook gateway (sync and async).

::

    from gateway_client import Client

    with Client("http://127.0.0.1:8000", api_key) as client:
        job = client.create_job("alibaba/happyhorse-1-0", prompt="A horse on a beach")
        job = client.wait(job.id)
        print(job.status, job.video_url)
"""

from gateway_client._async_client import AsyncClient
from gateway_client._client import Client
from gateway_client._core import DEFAULT_URL, PollingBackoff, RetryPolicy
from gateway_client._errors import (
    ClientError,
    Conflict,
    ConnectionFailed,
    GatewayError,
    HTTPError,
    InvalidRequest,
    InvalidWebhook,
    MissingDependency,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from gateway_client._models import (
    TERMINAL_STATUSES,
    Attempt,
    Delivery,
    DeliveryLog,
    Job,
    JobError,
    JobPage,
    Video,
    WebhookEvent,
)
from gateway_client._version import __version__
from gateway_client._webhooks import VerificationKey, WebhookVerifier, verify_webhook

__all__ = [
    "DEFAULT_URL",
    "TERMINAL_STATUSES",
    "AsyncClient",
    "Attempt",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "Delivery",
    "DeliveryLog",
    "GatewayError",
    "HTTPError",
    "InvalidRequest",
    "InvalidWebhook",
    "Job",
    "JobError",
    "JobPage",
    "MissingDependency",
    "NotFound",
    "PollingBackoff",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "VerificationKey",
    "Video",
    "WaitTimeout",
    "WebhookEvent",
    "WebhookVerifier",
    "__version__",
    "verify_webhook",
]
