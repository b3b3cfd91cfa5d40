"""The client's README examples run as written, against a live gateway (only the URL is changed),
and print what they say. (Every other page's samples, README.md's included, run in
``tests/docs/test_samples.py``.)"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from gateway.delivery.ed25519_keys import SigningKey
from gateway.domain.signing import webhook_headers_for
from gateway.testing import LiveStack
from gateway.testing.waiting import wait_for

ROOT = Path(__file__).parents[2]
README = "clients/python/README.md"


def python_blocks(path: Path) -> list[str]:
    """The document's Python examples that use the client, in order (other sections have their
    own examples, e.g. the drop-in's)."""
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), re.DOTALL)
    return [block for block in blocks if "gateway_client" in block]


def a_received_webhook(live: LiveStack) -> tuple[bytes, dict[str, str]]:
    from gateway_client import Client

    with Client(live.url, live.key) as client:
        job = client.create_job(prompt="for the README", callback_url=live.hook_url)
    received = wait_for(
        lambda: [r for r in live.receiver.received if job.id.encode() in r.body],
        timeout_s=30,
        what="a webhook",
    )[0]
    return received.body, received.headers


def test_the_first_client_example_runs(live: LiveStack, capsys: pytest.CaptureFixture[str]) -> None:
    """The ten-line example creates a job, waits for it and prints a completed video."""
    body, headers = a_received_webhook(live)
    example = (
        python_blocks(ROOT / README)[0]
        .replace("http://127.0.0.1:8000", live.url)
        .replace("https://example.com/hooks/video", live.hook_url)
    )
    namespace = {
        "api_key": live.key,
        "signing_secret": live.secret,
        "request_body": body,
        "request_headers": headers,
    }
    exec(compile(example, README, "exec"), namespace)  # noqa: S102 (our own README's code)
    assert re.search(r"^completed http://\S+\.mp4(\?\S+)?$", capsys.readouterr().out, re.MULTILINE)


def test_the_webhook_receiver_example_accepts_a_real_webhook_and_refuses_a_forgery(
    live: LiveStack, capsys: pytest.CaptureFixture[str]
) -> None:
    body, headers = a_received_webhook(live)
    example = python_blocks(ROOT / README)[1]
    namespace: dict[str, object] = {"signing_secret": live.secret}
    exec(compile(example, "README", "exec"), namespace)  # noqa: S102
    receive = namespace["receive"]
    assert callable(receive)
    assert (200, 400) == (receive(body, headers), receive(body + b" ", headers))
    assert "video.generation.completed" in capsys.readouterr().out


def test_the_public_key_receiver_example_accepts_a_v1a_webhook_and_refuses_a_forgery(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Signed as the gateway signs for a client in ``ed25519`` mode (no live gateway needed)."""
    key = SigningKey.generate()
    body = b'{"type": "video.generation.completed", "data": {"id": "job_1", "status": "completed"}}'
    headers = webhook_headers_for(
        "ed25519",
        secrets=[],
        signers=[key.sign],
        msg_id="msg_1",
        timestamp=int(time.time()),
        body=body,
    )
    example = python_blocks(ROOT / "clients/python/README.md")[2]
    namespace: dict[str, object] = {}
    exec(compile(example.replace("whpk_…", key.public_key()), "README", "exec"), namespace)  # noqa: S102
    receive = namespace["receive"]
    assert callable(receive)
    assert (200, 400) == (receive(body, headers), receive(body + b" ", headers))
    assert "video.generation.completed job_1" in capsys.readouterr().out
