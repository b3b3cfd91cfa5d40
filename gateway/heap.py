"""The start-up heap, frozen: Python's garbage collector stops scanning what a process builds once.

A started gateway holds a few hundred thousand long-lived objects (the app, its routes and their
OpenAPI models, every model's compiled rules, SQLAlchemy's tables). Each of Python's full
collections scans them all (~80 ms here), and under load full collections come often: requests
in flight when a young collection runs are promoted, counting towards the next full one. Each is
a pause of the event loop for every request, poll and delivery in flight: intake's p99 at 64
connections was 119-140 ms, and is 27-54 ms with the heap frozen (bench/README.md).

``gc.freeze()`` (the standard library's remedy for exactly this) moves every object tracked so
far to a permanent generation that collections skip. Frozen objects are still freed by reference
counting; only a reference cycle among them is never collected, which for what start-up builds
once and keeps is nothing. ``gateway serve`` calls it once the app has started.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect what start-up left as garbage, then freeze the rest."""
    gc.collect()
    gc.freeze()
