"""The catalogue as callers see it (``GET /v1/models``, ``gateway models``), and per model what
the gateway has seen of it (the console's models page)."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.domain.catalogue import FieldSpec, ModelSpec
from gateway.domain.model_rules import ModelRules, Rulebook
from gateway.domain.polling import DurationStats, stats_key
from gateway.errors import NotFound
from gateway.service.ports import StorePort
from gateway.store.browse import ModelCount


class ModelView(msgspec.Struct, frozen=True):
    id: str
    vendor: str  # from the folder of the upstream document, not the id's prefix
    source: str  # the upstream document the rules come from
    required: list[str]
    fields: dict[str, FieldSpec]  # JSON Schema keywords: type, enum, minimum, maximum, default…


class ModelList(msgspec.Struct, frozen=True):
    data: list[ModelView]


def model_view(spec: ModelSpec) -> ModelView:
    return ModelView(
        id=spec.id,
        vendor=spec.vendor,
        source=spec.source,
        required=list(spec.required),
        fields=dict(sorted(spec.properties.items())),
    )


class LearnedTime(msgspec.Struct, frozen=True):
    resolution: str
    duration: str
    samples: int
    p50_s: float
    p95_s: float


class ModelFigures(msgspec.Struct, frozen=True):
    model: str
    jobs: int
    completed: int
    failed: int
    learned: list[LearnedTime]  # one row per kind (resolution, duration) seen
    # The model's generations all together (what the policy expects of a kind not seen yet):
    # the same generations as the rows, summed up, never another row of samples.
    overall: LearnedTime | None = None

    @property
    def success_rate(self) -> float | None:
        finished = self.completed + self.failed
        return None if finished == 0 else self.completed / finished


class ModelCatalogue:
    """The models service: the catalogue's rules, and what jobs have shown of each model."""

    def __init__(self, rulebook: Rulebook, store: StorePort) -> None:
        self.rulebook = rulebook
        self._store = store

    def listing(self, vendor: str | None = None) -> ModelList:
        return model_list(self.rulebook, vendor)

    def rules(self, model_id: str) -> ModelRules:
        """One model's compiled rules; a 404 suggesting the closest ids when there is none."""
        rules = self.rulebook.for_model(model_id)
        if rules is None:
            close = self.rulebook.closest(model_id)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NotFound(f"No model {model_id!r}{hint}")
        return rules

    def get(self, model_id: str) -> ModelView:
        return model_view(self.rules(model_id).spec)

    async def figures(self, *, client_id: str | None) -> list[ModelFigures]:
        """Per model: jobs run (by a client, or by everyone: None) and the learned times."""
        counts = await self._store.browse.model_counts(client_id=client_id)
        return model_figures(counts, await self._store.counters.durations())


def model_figures(
    counts: list[ModelCount], durations: dict[str, tuple[int, float, float]]
) -> list[ModelFigures]:
    """Each model's counts and learned times. A finished generation is learned twice
    (``gateway.domain.polling.learning_keys``): under its kind and under its model as a whole
    (``model|-|-``). The kinds are the rows; the whole is ``overall``, the same generations
    summed up. (A generation of no known kind is learned under the whole only, so the rows may
    add up to fewer samples than ``overall``, never to more.)"""
    learned: dict[str, list[LearnedTime]] = {}
    overall: dict[str, LearnedTime] = {}
    for key, (count, mean, m2) in sorted(durations.items()):
        model, _, rest = key.partition("|")
        resolution, _, duration = rest.partition("|")
        estimate = DurationStats(count=count, mean_s=mean, m2=m2).estimate()
        figure = LearnedTime(
            resolution=resolution,
            duration=duration,
            samples=count,
            p50_s=estimate.quantile(0.5),
            p95_s=estimate.quantile(0.95),
        )
        if key == stats_key(model, None, None):
            overall[model] = figure
        else:
            learned.setdefault(model, []).append(figure)
    models = sorted({c.model for c in counts} | set(learned) | set(overall))
    return [
        ModelFigures(
            model=model,
            jobs=sum(c.jobs for c in counts if c.model == model),
            completed=sum(c.jobs for c in counts if c.model == model and c.status == "completed"),
            failed=sum(c.jobs for c in counts if c.model == model and c.status == "failed"),
            learned=learned.get(model, []),
            overall=overall.get(model),
        )
        for model in models
    ]


def model_list(rulebook: Rulebook, vendor: str | None = None) -> ModelList:
    wanted = vendor.lower() if vendor else None
    return ModelList(
        data=[
            model_view(spec)
            for spec in sorted(rulebook.catalogue.models, key=lambda s: s.id)
            if wanted is None or spec.vendor.lower() == wanted
        ]
    )


def _allowed(spec: FieldSpec) -> str:
    if spec.enum:
        return " | ".join(msgspec.json.encode(v).decode() for v in spec.enum)
    parts = []
    if spec.minimum is not None or spec.maximum is not None:
        parts.append(f"{spec.minimum if spec.minimum is not None else ''}…{spec.maximum or ''}")
    if spec.max_length is not None:
        parts.append(f"≤ {spec.max_length} chars")
    if spec.max_items is not None or spec.min_items is not None:
        parts.append(f"{spec.min_items or 0}–{spec.max_items or '∞'} items")
    if spec.format:
        parts.append(spec.format)
    return ", ".join(parts)


def _type(spec: FieldSpec) -> str:
    alternatives = spec.any_of or spec.one_of
    if alternatives:
        return " or ".join(_type(alt) for alt in alternatives)
    if spec.type == "array" and spec.items is not None:
        return f"array of {_type(spec.items)}"
    return spec.type or ("null" if spec.nullable else "any")


def describe_list(models: ModelList) -> str:
    """One line a model: id, vendor, required fields."""
    width = max((len(m.id) for m in models.data), default=0)
    lines = [f"{'MODEL'.ljust(width)}  {'VENDOR':<18}  REQUIRED"]
    for m in models.data:
        required = ", ".join(r for r in m.required if r != "model") or "-"
        lines.append(f"{m.id.ljust(width)}  {m.vendor:<18}  {required}")
    lines.append(f"{len(models.data)} models")
    return "\n".join(lines)


def describe_model(view: ModelView) -> str:
    """A model's fields as a table: name (* required), type, allowed values or range, default."""
    lines = [f"{view.id}  ({view.vendor}; {view.source})", ""]
    rows: list[tuple[str, str, str, str]] = [("FIELD", "TYPE", "ALLOWED", "DEFAULT")]
    for name, spec in view.fields.items():
        default: Any = spec.default
        rows.append(
            (
                name + (" *" if name in view.required else ""),
                _type(spec),
                _allowed(spec),
                "" if default is msgspec.UNSET else msgspec.json.encode(default).decode(),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]
        )
    lines += ["", "* required"]
    return "\n".join(line.rstrip() for line in lines)
