"""A real ``gateway dev`` for the documentation's samples, as a reader would start it.

It runs as a child process on free ports in a temporary directory (so its ``gateway-dev/``
holds the key and the URL the CLI finds), with a loopback webhook receiver beside it, one job
whose webhook reached dev's inbox (``JOB``), and one webhook the receiver got (for the samples
that verify a webhook).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.testing import Received, Receiver, wait_for
from mock_upstream.testing import MockServer, free_port


@dataclass(frozen=True)
class DevGateway:
    url: str
    key: str
    secret: str
    directory: Path  # where `gateway dev` runs; the samples run here too
    database_url: str
    hook_url: str  # a loopback receiver's URL
    job: str  # a completed job whose webhook dev's inbox received
    webhook: Received  # a webhook the gateway sent to the receiver

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def _start(directory: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    log = (directory / "dev.log").open("wb")
    try:
        return subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "dev",
                "--port",
                str(port),
                "--mock-port",
                str(free_port()),
            ],
            env={**env, "GATEWAY_HOST": "127.0.0.1"},
            cwd=directory,
            stdout=log,
            stderr=log,
        )
    finally:
        log.close()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevGateway]:
    directory = tmp_path_factory.mktemp("docs")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    receiver = Receiver()
    with ExitStack() as stack:
        hooks = stack.enter_context(MockServer(receiver.app()))
        process = _start(directory, port)

        def stop() -> None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

        stack.callback(stop)

        def healthy() -> bool:
            if process.poll() is not None:
                log = (directory / "dev.log").read_text(errors="replace")
                raise AssertionError(f"gateway dev exited with {process.returncode}:\n{log}")
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout_s=90, what="gateway dev")
        credentials = json.loads((directory / "gateway-dev" / "credentials.json").read_text())
        key, secret = credentials["client_api_key"], credentials["client_webhook_secret"]
        headers = {"Authorization": f"Bearer {key}"}

        def submit(callback_url: str) -> str:
            body = {"prompt": "for the docs", "duration": "5", "callback_url": callback_url}
            answer = httpx.post(f"{url}/v1/jobs", json=body, headers=headers, timeout=10)
            assert 202 == answer.status_code, answer.text
            job_id: str = answer.json()["id"]
            return job_id

        job = submit(f"{url}/dev/inbox")
        hooked = submit(f"{hooks.url}/hook")
        wait_for(
            lambda: (
                (
                    httpx.get(f"{url}/v1/jobs/{job}", headers=headers, timeout=5)
                    .json()
                    .get("delivery")
                    or {}
                ).get("state")
                == "delivered"
            ),
            timeout_s=60,
            what="the docs job's webhook",
        )
        webhook = wait_for(
            lambda: [r for r in receiver.received if hooked.encode() in r.body],
            timeout_s=60,
            what="a webhook at the receiver",
        )[0]
        yield DevGateway(
            url=url,
            key=key,
            secret=secret,
            directory=directory,
            database_url=f"sqlite:///{directory / 'gateway-dev' / 'gateway.db'}",
            hook_url=f"{hooks.url}/hook",
            job=job,
            webhook=webhook,
        )
