"""The gateway harness (``tests/harness.py``): fake clock, upstream and receiver, both backends."""

from tests.harness import harness, settings

__all__ = ["harness", "settings"]
