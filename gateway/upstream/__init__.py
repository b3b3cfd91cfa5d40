"""The AI/ML API's video endpoint, as the gateway calls it."""

from gateway.upstream.client import UpstreamClient

__all__ = ["UpstreamClient"]
