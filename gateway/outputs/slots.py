"""The cap on copies in flight in one replica, so that polls and deliveries keep their timing
while large videos are downloaded, hashed and probed.

The :class:`gateway.outputs.copy.Copier` owns one (``copier.slots``) and every copy holds a slot
for its whole run. The worker's claim path asks :meth:`CopySlots.free` how many copies to claim,
the way it sizes delivery claims, so claimed copies never queue behind the cap while their lease
runs down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class CopySlots:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("at least one copy slot")
        self.capacity = capacity
        self._semaphore = asyncio.Semaphore(capacity)
        self._in_use = 0

    @property
    def in_use(self) -> int:
        return self._in_use

    def free(self) -> int:
        """Slots free now (how many copies a claim may take)."""
        return self.capacity - self._in_use

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold a slot for the block (waiting for one when all are taken)."""
        async with self._semaphore:
            self._in_use += 1
            try:
                yield
            finally:
                self._in_use -= 1
