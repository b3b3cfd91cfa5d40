"""Per model: jobs run, success rate, and the generation times the adaptive poll policy learned."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Template

from gateway.console.auth import Viewer, current_viewer
from gateway.console.render import page
from gateway.domain.polling import DurationStats, stats_key
from gateway.http.state import gateway_of
from gateway.store.browse import ModelCount


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


class ModelsController(Controller):
    path = "/console/models"
    include_in_schema = False
    dependencies = {"viewer": Provide(current_viewer)}

    @get("/", name="console_models")
    async def models(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        client: Annotated[str, QueryParameter(max_length=100)] = "",
    ) -> Template:
        store = gateway_of(request).runtime.store
        figures = model_figures(
            await store.browse.model_counts(client_id=viewer.scope(client)),
            await store.counters.durations(),
        )
        longest = max(
            (t.p95_s for f in figures for t in [*f.learned, *([f.overall] if f.overall else [])]),
            default=0.0,
        )
        return await page(request, viewer, "models.html", figures=figures, longest=longest)
