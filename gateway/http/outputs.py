"""``/v1/outputs``: kept videos and their posters, through the stable signed links webhooks and
job views announce (issue 26). No ``Authorization`` header: the link's signature is the
permission, so a ``<video>`` tag, Zapier and curl can fetch it.

On a local store the bytes are served here (``Range`` → 206, ``ETag``, ``If-None-Match`` → 304,
``Content-Length``); on S3 and the like the answer is a 302 to a fresh presigned URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, head
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from gateway.errors import (
    InvalidRequest,
    NotFound,
    OutputGone,
    OutputLinkInvalid,
    OutputStoreUnavailable,
)
from gateway.http.errors import documented_errors
from gateway.http.openapi import PublicOperation
from gateway.service import Services
from gateway.service.kept_videos import DownloadRequest

_DESCRIPTION = (
    "The link comes from a webhook or a job view (video.url, video.poster_url) and works until "
    "the video's retention ends, without an Authorization header. A local store serves the "
    "bytes here (Range requests answer 206, ETag and If-None-Match 304); an object store "
    "answers 302 to a presigned URL. A changed link answers 403; a video past its retention, or "
    "deleted, 410."
)
_ERRORS = documented_errors(
    InvalidRequest, OutputLinkInvalid, OutputGone, NotFound, OutputStoreUnavailable
)
Expires = Annotated[str | None, QueryParameter(max_length=20)]
Signature = Annotated[str | None, QueryParameter(max_length=100)]


@get(
    "/v1/outputs/{job_id:str}/{name:str}",
    tags=["outputs"],
    summary="Download a kept video or its poster through its signed link",
    description=_DESCRIPTION,
    operation_id="downloadOutput",
    operation_class=PublicOperation,
    responses=_ERRORS,
)
async def download_output(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    job_id: FromPath[str],
    name: FromPath[str],
    expires: Expires = None,
    sig: Signature = None,
) -> Response[Any]:
    return await _answer(request, services, job_id, name, expires, sig)


@head(
    "/v1/outputs/{job_id:str}/{name:str}",
    tags=["outputs"],
    summary="The headers of a kept video or poster (size, type, ETag) without its bytes",
    description=_DESCRIPTION,
    operation_id="headOutput",
    operation_class=PublicOperation,
    responses=_ERRORS,
)
async def head_output(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    job_id: FromPath[str],
    name: FromPath[str],
    expires: Expires = None,
    sig: Signature = None,
) -> Response[None]:
    answer = await _answer(request, services, job_id, name, expires, sig)
    return Response(None, status_code=answer.status_code, headers=dict(answer.headers))


async def _answer(
    request: Request[Any, Any, Any],
    services: Services,
    job_id: str,
    name: str,
    expires: str | None,
    sig: str | None,
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
