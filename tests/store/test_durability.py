"""A committed job survives the process that committed it being killed."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from gateway.domain.jobs import JobStatus
from gateway.store import Store
from tests.store.builders import add_client

REPO = Path(__file__).resolve().parents[2]

# Open the store, commit one job, say so, and die without any clean-up.
CHILD = """
import asyncio, os, signal, sys
from gateway.store import Store
from gateway.store.jobs import Created
from tests.store.builders import T0, new_job

async def main():
    store = await Store.open(sys.argv[1])
    outcome = await store.jobs.insert_job(new_job(job_id="job_survivor"), now=T0)
    assert isinstance(outcome, Created)
    print("committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_a_committed_job_survives_sigkill(store: Store, database_url: str) -> None:
    """The job a killed process reported committed is there when the database is opened again."""
    await add_client(store)
    await store.close()  # nothing of ours holds the database while the child writes and dies

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        database_url,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(child.communicate(), timeout=30)

    assert ("committed", -signal.SIGKILL) == (stdout.decode().strip(), child.returncode), stderr
    reopened = await Store.open(database_url)
    try:
        job = await reopened.jobs.get_job("job_survivor")
    finally:
        await reopened.close()
    assert job is not None
    assert ("cli_a", JobStatus.ACCEPTED) == (job.client_id, job.status)
