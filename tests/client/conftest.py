"""One live gateway (with the mock upstream and a webhook receiver) per test module."""

from tests.live import live

__all__ = ["live"]
