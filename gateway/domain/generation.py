"""A job request: the upstream's generation fields, checked by the chosen model's rules, plus ours.

The body is flat: the upstream's fields at the top level exactly as the upstream takes them,
``model`` choosing which rules apply (default ``alibaba/happyhorse-1-0``), and the gateway's own
fields (``callback_url``, ``metadata``, ``events``, ``keep_output``) reserved.
:func:`check_job` turns a plain dict (from JSON, a form, or the upstream-shaped ``/v2`` body)
into a :class:`CheckedJob` — the body as it will be sent upstream, and the gateway's fields — or
the list of rules it breaks.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import msgspec

from gateway.domain import wording
from gateway.domain.model_rules import Rulebook, RuleBroken, check_unlisted

DEFAULT_MODEL = "alibaba/happyhorse-1-0"
GATEWAY_FIELDS = frozenset({"callback_url", "metadata", "events", "keep_output"})
MODEL_ID_MAX = 200  # the jobs.model column

EventName = Literal["queued", "generating", "completed", "failed"]
DEFAULT_EVENTS: tuple[str, ...] = ("completed", "failed")

CallbackUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
MetadataKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
MetadataValue = Annotated[str, msgspec.Meta(max_length=500)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], msgspec.Meta(max_length=50)]
Events = Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=4)]


class GatewayFields(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    callback_url: CallbackUrl | None = None
    metadata: Metadata | None = None
    events: Events | None = None
    keep_output: bool | None = None  # False: announce the upstream's link, keep nothing


class JobRequest(msgspec.Struct, omit_defaults=True):
    """``POST /v1/jobs`` as documented: ``model`` and the gateway's fields; every other field
    is the chosen model's (``GET /v1/models/{id}`` lists them), sent upstream as given."""

    model: str = DEFAULT_MODEL
    prompt: str | None = None
    callback_url: CallbackUrl | None = None
    metadata: Metadata | None = None
    events: Events | None = None
    # False: the finished video is not copied into the gateway's store; the completion event
    # carries the upstream's link (which expires). Default: kept (GATEWAY_OUTPUTS=keep).
    keep_output: bool | None = None


class CheckedJob(msgspec.Struct, frozen=True):
    model: str
    body: dict[str, Any]  # exactly what will be POSTed upstream
    gateway: GatewayFields
    checked: bool = True  # False: a model missing from the catalogue, only common checks
    resolution: str | None = None  # the body's or the model's default (poll learning)
    duration: int | None = None

    def fingerprint(self) -> str:
        """A stable hash of what was asked, for idempotency: same fields, same hash."""
        canonical = msgspec.json.encode(
            [self.body, msgspec.to_builtins(self.gateway)], order="sorted"
        )
        return hashlib.sha256(canonical).hexdigest()


def _gateway_fields(data: dict[str, Any], broken: list[RuleBroken]) -> GatewayFields:
    try:
        return msgspec.convert(data, GatewayFields, strict=False)
    except msgspec.ValidationError as exc:
        broken.append(wording.explain(exc, GatewayFields, data))
        return GatewayFields()


def _poll_key_parts(body: dict[str, Any], rules_default: Any) -> tuple[str | None, int | None]:
    resolution = body.get("resolution", rules_default("resolution"))
    duration = body.get("duration", rules_default("duration"))
    return (
        resolution if isinstance(resolution, str) and len(resolution) <= 20 else None,
        int(duration)
        if isinstance(duration, int | float) and not isinstance(duration, bool)
        else None,
    )


def check_job(
    rulebook: Rulebook,
    data: dict[str, Any],
    *,
    metadata_max_bytes: int,
    allow_unlisted: bool = False,
) -> CheckedJob | list[RuleBroken]:
    """Check a job body; an empty rule list never comes back (a CheckedJob does instead)."""
    broken: list[RuleBroken] = []
    gateway = _gateway_fields({k: v for k, v in data.items() if k in GATEWAY_FIELDS}, broken)
    if gateway.metadata is not None:
        size = len(msgspec.json.encode(gateway.metadata))
        if size > metadata_max_bytes:
            broken.append(
                RuleBroken(
                    "metadata",
                    f"must be at most {metadata_max_bytes} bytes as JSON, got {size} bytes",
                )
            )
    upstream = {k: v for k, v in data.items() if k not in GATEWAY_FIELDS}
    model = upstream.setdefault("model", DEFAULT_MODEL)
    if not isinstance(model, str) or not 0 < len(model) <= MODEL_ID_MAX:
        expected = f"a model id (1 to {MODEL_ID_MAX} characters)"
        broken.append(RuleBroken("model", wording.must_be(expected, model)))
        return broken
    rules = rulebook.for_model(model)
    if rules is None and not allow_unlisted:
        close = rulebook.closest(model)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        listed = wording.must_be("a model GET /v1/models lists", model)
        broken.append(RuleBroken("model", f"{listed}{hint}"))
        return broken
    if rules is None:
        body = check_unlisted(upstream, broken)
        resolution, duration = _poll_key_parts(body, lambda _name: None)
    else:
        body = rules.check(upstream, broken)
        resolution, duration = _poll_key_parts(body, rules.spec.default_of)
    if broken:
        return broken
    return CheckedJob(
        model=model,
        body=body,
        gateway=gateway,
        checked=rules is not None,
        resolution=resolution,
        duration=duration,
    )
