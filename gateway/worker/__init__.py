"""The worker: an APScheduler ticker that claims due work under leases and runs it."""

from gateway.worker.ticker import Worker

__all__ = ["Worker"]
