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
from gateway.console.timeline import job_timeline
from gateway.domain.jobs import IN_FLIGHT, JobStatus
from gateway.errors import InvalidRequest, NotFound
from gateway.http.state import gateway_of
from gateway.service.redelivery import redeliver_job
from gateway.service.views import delivery_view, job_view
from gateway.store.browse import JobFilter
from gateway.store.records import JobRecord

PAGE_SIZE = 50
STATUSES = [status.value for status in JobStatus]
Text = Annotated[str, QueryParameter(max_length=300)]


def _filter(
    viewer: NamedDependency[Viewer], client: str, status: str, model: str, q: str
) -> JobFilter:
    if status and status not in STATUSES:
        raise InvalidRequest(f"Unknown status {status!r}")
    return JobFilter(
        client_id=viewer.scope(client),
        status=status or None,
        model=model or None,
        text=q.strip() or None,
    )


async def _jobs_context(
    request: Request[Any, Any, Any], viewer: Viewer, where: JobFilter, before: str
) -> dict[str, Any]:
    browse = gateway_of(request).runtime.store.browse
    cursor = None
    if before:
        created, _, job_id = before.partition("|")
        try:
            cursor = (float(created), job_id)
        except ValueError:
            raise InvalidRequest("Not a page of this list") from None
    jobs = await browse.search_jobs(where, limit=PAGE_SIZE + 1, before=cursor)
    shown = jobs[:PAGE_SIZE]
    older = f"{shown[-1].created_at!r}|{shown[-1].id}" if len(jobs) > PAGE_SIZE else None
    filters = {
        "client": where.client_id if viewer.is_admin and where.client_id else "",
        "status": where.status or "",
        "model": where.model or "",
        "q": where.text or "",
    }
    models = sorted({c.model for c in await browse.model_counts(client_id=where.client_id)})
    return {
        "jobs": shown,
        "older": older,
        "where": where,
        "before": before,
        "models": models,
        "statuses": STATUSES,
        "live": any(job.status in IN_FLIGHT for job in shown),
        "base_query": urlencode(filters),
        "query": urlencode(filters | {"before": before}),
    }


async def _owned_job(
    request: Request[Any, Any, Any], viewer: NamedDependency[Viewer], job_id: FromPath[str]
) -> JobRecord:
    store = gateway_of(request).runtime.store
    client_id = viewer.client.id if viewer.client is not None else None
    job = await store.jobs.get_job(job_id, client_id=client_id)
    if job is None:
        raise NotFound("No such job")
    return job


async def _job_context(request: Request[Any, Any, Any], job: JobRecord) -> dict[str, Any]:
    store = gateway_of(request).runtime.store
    deliveries = await store.deliveries.for_job(job.id)
    return {
        "job": job_view(job, deliveries=deliveries),
        "timeline": await job_timeline(store, job),
        "deliveries": [delivery_view(d) for d in deliveries],
        "live": job.status in IN_FLIGHT or any(d.state == "pending" for d in deliveries),
    }


async def _jobs_page(
    request: Request[Any, Any, Any],
    viewer: Viewer,
    template: str,
    filters: tuple[str, str, str, str],
    before: str,
) -> Template:
    """The jobs page, or its live rows: the same filters (client, status, model, text)."""
    where = _filter(viewer, *filters)
    context = await _jobs_context(request, viewer, where, before)
    return await page(request, viewer, template, **context)


class JobsController(Controller):
    path = "/console/jobs"
    include_in_schema = False
    dependencies = {"viewer": Provide(current_viewer)}

    @get("/", name="console_jobs")
    async def jobs(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        client: Text = "",
        status: Text = "",
        model: Text = "",
        q: Text = "",
        before: Text = "",
    ) -> Template:
        filters = (client, status, model, q)
        return await _jobs_page(request, viewer, "jobs.html", filters, before)

    @get("/rows", name="console_job_rows")
    async def rows(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        client: Text = "",
        status: Text = "",
        model: Text = "",
        q: Text = "",
        before: Text = "",
    ) -> Template:
        """The live part of the jobs page (htmx polls it while jobs are in flight)."""
        filters = (client, status, model, q)
        return await _jobs_page(request, viewer, "_job_rows.html", filters, before)

    @get("/{job_id:str}", name="console_job")
    async def job(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        job_id: FromPath[str],
    ) -> Template:
        job = await _owned_job(request, viewer, job_id)
        done = request.query_params.get("done")
        notice = "Redelivery requested: the events are being sent again." if done else None
        context = await _job_context(request, job)
        return await page(request, viewer, "job.html", notice=notice, **context)

    @get("/{job_id:str}/live", name="console_job_live")
    async def live(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        job_id: FromPath[str],
    ) -> Template:
        """The live part of a job's page: status, video, timeline, deliveries."""
        job = await _owned_job(request, viewer, job_id)
        return await page(request, viewer, "_job_live.html", **await _job_context(request, job))

    @post(
        "/{job_id:str}/redeliver",
        status_code=303,
        dependencies={"viewer": Provide(acting_viewer)},
    )
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        job_id: FromPath[str],
    ) -> Response[Any]:
        gateway = gateway_of(request)
        job = await _owned_job(request, viewer, job_id)
        await redeliver_job(gateway.runtime, job)
        gateway.wake()
        return Redirect(f"/console/jobs/{job.id}?done=redelivered", status_code=303)
