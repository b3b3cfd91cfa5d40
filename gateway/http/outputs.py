"""``/v1/outputs``: kept videos and their posters, through the stable signed links webhooks and
job views announce (issue 26). No ``Authorization`` header: the link's signature is the
permission, so a ``<video>`` tag, Zapier and curl can fetch it.

On a local store the bytes are served here (``Range`` → 206, ``ETag``, ``If-None-Match`` → 304,
``Content-Length``); on S3 and the like the answer is a 302 to a fresh presigned URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from gateway.errors import NotFound, OutputGone, OutputLinkInvalid, OutputStoreUnavailable
from gateway.http.errors import documented_errors
from gateway.http.openapi import PublicOperation
from gateway.service import Services
from gateway.service.kept_videos import DownloadRequest


@route(
    "/v1/outputs/{job_id:str}/{name:str}",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    tags=["outputs"],
    summary="Download a kept video or its poster through its signed link",
    description=(
        "The link comes from a webhook or a job view (video.url, video.poster_url) and works "
        "until the video's retention ends, without an Authorization header. A local store "
        "serves the bytes here (Range requests answer 206, ETag and If-None-Match 304); an "
        "object store answers 302 to a presigned URL. A changed link answers 403; a video "
        "past its retention, or deleted, 410."
    ),
    operation_id="downloadOutput",
    operation_class=PublicOperation,
    responses=documented_errors(OutputLinkInvalid, OutputGone, NotFound, OutputStoreUnavailable),
)
async def download_output(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    job_id: FromPath[str],
    name: FromPath[str],
    expires: Annotated[str | None, QueryParameter(max_length=20)] = None,
    sig: Annotated[str | None, QueryParameter(max_length=100)] = None,
) -> Response[Any]:
    headers = request.headers
    answer = await services.videos.download(
        DownloadRequest(
            job_id,
            name,
            expires=expires,
            sig=sig,
            method=request.method,
            range=headers.get("range"),
            if_none_match=headers.get("if-none-match"),
            if_range=headers.get("if-range"),
        )
    )
    if answer.body is not None:
        return Stream(answer.body, status_code=answer.status, headers=answer.headers)
    return Response(b"", status_code=answer.status, headers=answer.headers)
