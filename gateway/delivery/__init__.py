"""Getting webhooks out: the SSRF guard and the transport that connects only to checked
addresses, and the sender that makes one attempt and never raises for the receiver's trouble."""

from gateway.delivery.guard import AddressGuard, HostNotResolved
from gateway.delivery.sender import WebhookSender
from gateway.delivery.transport import BlockedAddress, GuardedTransport, ResolutionFailed

__all__ = [
    "AddressGuard",
    "BlockedAddress",
    "GuardedTransport",
    "HostNotResolved",
    "ResolutionFailed",
    "WebhookSender",
]
