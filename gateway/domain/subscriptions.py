"""Subscriptions (REST hooks): which of a client's job events go to a standing target URL.

A subscription names the events it wants (short names, ``completed``, or full webhook types,
``video.generation.completed``; by default the terminal two) and optionally the models; a
job's event goes to every active subscription of its client that matches. A subscription may
also ask for the client's operational events by their full names (``subscription.disabled``,
``delivery.exhausted``): those are about the client, not a job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway.domain import wording
from gateway.domain.events import EVENT_TYPES, OPERATIONAL_EVENT_TYPES
from gateway.domain.generation import DEFAULT_EVENTS
from gateway.domain.jobs import JobStatus

JOB_EVENT_NAMES: tuple[str, ...] = tuple(status.value for status in EVENT_TYPES)
EVENT_NAMES: tuple[str, ...] = JOB_EVENT_NAMES + OPERATIONAL_EVENT_TYPES
_BY_TYPE = {event_type: status.value for status, event_type in EVENT_TYPES.items()}
MAX_MODELS = 50


class UnknownEvent(ValueError):
    """An event name that is neither a short name nor a webhook type."""


def normalize_events(names: Iterable[str] | None) -> list[str]:
    """Short event names, de-duplicated, in the canonical order; the default when none."""
    if names is None:
        return list(DEFAULT_EVENTS)
    wanted: set[str] = set()
    for raw in names:
        name = raw.strip()
        short = _BY_TYPE.get(name, name)
        if short not in EVENT_NAMES:
            operational = ", ".join(wording.show(v) for v in OPERATIONAL_EVENT_TYPES)
            expected = f"{wording.one_of(JOB_EVENT_NAMES)} (or their full types), {operational}"
            raise UnknownEvent(wording.must_be(expected, name))
        wanted.add(short)
    if not wanted:
        raise UnknownEvent(wording.too_few(1, []))
    return [name for name in EVENT_NAMES if name in wanted]


def subscription_matches(
    events: Sequence[str], models: Sequence[str] | None, status: JobStatus, model: str
) -> bool:
    """Does a subscription (its events, its models or None for all) want this job's event?"""
    return status.value in events and (models is None or model in models)


def wants_operational(events: Sequence[str], event_type: str) -> bool:
    """Does a subscription (its events) ask for the operational event ``event_type``?"""
    return event_type in OPERATIONAL_EVENT_TYPES and event_type in events
