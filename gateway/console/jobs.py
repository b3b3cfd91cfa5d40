"""The jobs page (filter, search, live rows) and a job's page (request, timeline, video,
redeliver)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from gateway.console.auth import Viewer, acting_viewer, current_viewer
from gateway.console.render import page
from gateway.domain.jobs import IN_FLIGHT, JobStatus
from gateway.errors import InvalidRequest, NotFound
from gateway.service import Services
from gateway.service.jobs import Jobs
from gateway.store.browse import JobFilter
from gateway.store.records import JobRecord

PAGE_SIZE = 50
STATUSES = [status.value for status in JobStatus]
Text = Annotated[str, QueryParameter(max_length=300)]


def _filter(viewer: Viewer, client: str, status: str, model: str, q: str) -> JobFilter:
    if status and status not in STATUSES:
        raise InvalidRequest(f"Unknown status {status!r}")
    return JobFilter(
        client_id=viewer.scope(client),
        status=status or None,
        model=model or None,
        text=q.strip() or None,
    )


async def _jobs_context(
    jobs: Jobs, viewer: Viewer, where: JobFilter, before: str
) -> dict[str, Any]:
    found = await jobs.search(where, limit=PAGE_SIZE, cursor=before or None)
    filters = {
        "client": where.client_id if viewer.is_admin and where.client_id else "",
        "status": where.status or "",
        "model": where.model or "",
        "q": where.text or "",
    }
    return {
        "jobs": found.data,
        "older": found.next_cursor,
        "where": where,
        "before": before,
        "models": await jobs.models_seen(client_id=where.client_id),
        "statuses": STATUSES,
        "live": any(job.status in IN_FLIGHT for job in found.data),
        "base_query": urlencode(filters),
        "query": urlencode(filters | {"before": before}),
    }


async def owned_job(
    job_id: FromPath[str], viewer: NamedDependency[Viewer], services: NamedDependency[Services]
) -> JobRecord:
    """Litestar dependency: the path's job, if the viewer may see it (the operator sees every
    client's); else 404, without repeating the id."""
    try:
        return await services.jobs.owned(
            job_id, client_id=viewer.client.id if viewer.client else None
        )
    except NotFound:
        raise NotFound("No such job") from None


async def _jobs_page(
    request: Request[Any, Any, Any],
    jobs: Jobs,
    viewer: Viewer,
    template: str,
    filters: tuple[str, str, str, str],
    before: str,
) -> Template:
    """The jobs page, or its live rows: the same filters (client, status, model, text)."""
    where = _filter(viewer, *filters)
    context = await _jobs_context(jobs, viewer, where, before)
    return await page(request, viewer, template, **context)


class JobsController(Controller):
    path = "/console/jobs"
    include_in_schema = False
    dependencies = {"viewer": Provide(current_viewer), "job": Provide(owned_job)}

    @get("/", name="console_jobs")
    async def jobs_list(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        services: NamedDependency[Services],
        client: Text = "",
        status: Text = "",
        model: Text = "",
        q: Text = "",
        before: Text = "",
    ) -> Template:
        filters = (client, status, model, q)
        return await _jobs_page(request, services.jobs, viewer, "jobs.html", filters, before)

    @get("/rows", name="console_job_rows")
    async def rows(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        services: NamedDependency[Services],
        client: Text = "",
        status: Text = "",
        model: Text = "",
        q: Text = "",
        before: Text = "",
    ) -> Template:
        """The live part of the jobs page (htmx polls it while jobs are in flight)."""
        filters = (client, status, model, q)
        return await _jobs_page(request, services.jobs, viewer, "_job_rows.html", filters, before)

    @get("/{job_id:str}", name="console_job")
    async def job_page(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        services: NamedDependency[Services],
        job: NamedDependency[JobRecord],
        job_id: FromPath[str],
    ) -> Template:
        done = request.query_params.get("done")
        notice = "Redelivery requested: the events are being sent again." if done else None
        view = await services.jobs.page_view(job)
        return await page(request, viewer, "job.html", notice=notice, **_as_context(view))

    @get("/{job_id:str}/live", name="console_job_live")
    async def live(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        services: NamedDependency[Services],
        job: NamedDependency[JobRecord],
        job_id: FromPath[str],
    ) -> Template:
        """The live part of a job's page: status, video, timeline, deliveries."""
        view = await services.jobs.page_view(job)
        return await page(request, viewer, "_job_live.html", **_as_context(view))

    @post(
        "/{job_id:str}/redeliver",
        status_code=303,
        dependencies={"viewer": Provide(acting_viewer)},
    )
    async def redeliver(
        self,
        services: NamedDependency[Services],
        job: NamedDependency[JobRecord],
        job_id: FromPath[str],
    ) -> Response[Any]:
        await services.jobs.redeliver(job)
        return Redirect(f"/console/jobs/{job.id}?done=redelivered", status_code=303)


def _as_context(view: Any) -> dict[str, Any]:
    return {
        "job": view.job,
        "timeline": view.timeline,
        "deliveries": view.deliveries,
        "live": view.live,
    }
