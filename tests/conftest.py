"""Shared fixtures: the storage backends (``tests/backends.py``) for every folder."""

pytest_plugins = ["tests.backends"]
