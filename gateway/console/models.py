"""Per model: jobs run, success rate, and the generation times the adaptive poll policy learned."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Template

from gateway.console.auth import Viewer, current_viewer
from gateway.console.render import page
from gateway.service import Services


class ModelsController(Controller):
    path = "/console/models"
    include_in_schema = False
    dependencies = {"viewer": Provide(current_viewer)}

    @get("/", name="console_models")
    async def models_page(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        services: NamedDependency[Services],
        client: Annotated[str, QueryParameter(max_length=100)] = "",
    ) -> Template:
        figures = await services.catalogue.figures(client_id=viewer.scope(client))
        longest = max(
            (t.p95_s for f in figures for t in [*f.learned, *([f.overall] if f.overall else [])]),
            default=0.0,
        )
        return await page(request, viewer, "models.html", figures=figures, longest=longest)
