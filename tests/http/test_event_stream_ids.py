"""``Last-Event-ID`` is checked before the stream's response starts: an id no history row can
have (past 2^63 - 1, the ids' 64 bits) is a 400 in the error shape naming the header, never a
200 whose connection is then reset; a large id that fits is read (both databases)."""

from __future__ import annotations

import pytest

from gateway.domain.upstream import FailureKind
from gateway.testing.fakes import failure
from tests.http.conftest import Api
from tests.http.test_api import assert_error_shape

LARGEST_ID = 2**63 - 1


async def _failed_job(api: Api) -> str:
    """A job that ended (its submission refused), so that its stream ends by itself."""
    api.upstream.submit_script.append(failure(FailureKind.REJECTED, 400))
    job_id: str = (await api.submit()).json()["id"]
    worker = api.gateway.worker
    assert worker is not None
    await worker.run_until_idle()
    return job_id


@pytest.mark.parametrize("given", [str(LARGEST_ID + 1), str(2**64), "9" * 40, "-1", "1e3"])
async def test_an_id_no_row_can_have_is_a_400(stored_api: Api, given: str) -> None:
    job_id = await _failed_job(stored_api)
    response = await stored_api.http.get(
        f"/v1/jobs/{job_id}/events", headers={**stored_api.auth(), "Last-Event-ID": given}
    )
    assert 400 == response.status_code, response.text
    assert_error_shape(response.json(), "invalid_request")
    assert ["Last-Event-ID"] == [d["field"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize("given", [str(2**31), str(2**32 + 7), str(LARGEST_ID)])
async def test_a_large_id_that_fits_resumes_after_it(stored_api: Api, given: str) -> None:
    """Past every row: the finished job's stream holds no event and ends."""
    job_id = await _failed_job(stored_api)
    response = await stored_api.http.get(
        f"/v1/jobs/{job_id}/events", headers={**stored_api.auth(), "Last-Event-ID": given}
    )
    assert 200 == response.status_code, response.text
    assert "id:" not in response.text
