"""``gateway submit`` and ``gateway jobs`` in-process (``main(argv)``) against a live gateway:
human output, ``--json`` for scripts, the caller's URL and key, gateway dev's key found alone."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.caller.commands import caller_retries
from gateway.cli import main
from gateway.dev import dev_settings
from gateway.settings import Settings
from gateway.testing import SECRET, LiveStack
from mock_upstream.files import SAMPLE_MP4
from mock_upstream.testing import free_port


@pytest.fixture(autouse=True)
def caller_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No caller settings from the machine running the tests; a wide console."""
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    monkeypatch.delenv("GATEWAY_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert 0 == code, err
    return json.loads(out)


def test_submit_wait_show_list_for_people(
    live: LiveStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """submit --wait ends with the video URL; show and list name the job and its webhook."""
    auth = ["--url", live.url, "--key", live.key]
    code, out, err = run(
        capsys,
        "submit",
        *auth,
        "--model",
        "alibaba/happyhorse-1-0",
        "--prompt",
        "A horse on a beach",
        "--param",
        "duration=5",
        "--callback-url",
        live.hook_url,
        "--wait",
    )
    assert 0 == code, err
    accepted = re.search(r"^accepted (job_\w+) ", out, re.MULTILINE)
    assert accepted is not None, out
    job_id = accepted.group(1)
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"{job_id} completed in ")
    assert re.search(r"\.mp4(\?\S+)?$", last), last  # the mock signs its links
    code, out, _ = run(capsys, "jobs", "show", job_id, *auth)
    assert 0 == code
    assert "completed" in out
    assert "video.generation.completed" in out
    code, out, _ = run(capsys, "jobs", "list", *auth, "--limit", "5")
    assert (0, True) == (code, job_id in out)


def test_json_for_scripts(live: LiveStack, capsys: pytest.CaptureFixture[str]) -> None:
    """Every command's --json: the job, the watched states (one per line), the list, the
    detail with deliveries, the redelivered events."""
    auth = ["--url", live.url, "--key", live.key]
    job = as_json(
        capsys,
        "submit",
        *auth,
        "--prompt",
        "json horse",
        "--param",
        "duration=5",
        "--param",
        "watermark=false",
        "--metadata",
        "order_id=42",
        "--callback-url",
        live.hook_url,
    )
    assert ("accepted", 5, False, {"order_id": "42"}) == (
        job["status"],
        job["request"]["duration"],
        job["request"]["watermark"],
        job["metadata"],
    )
    code, out, err = run(capsys, "jobs", "watch", job["id"], *auth, "--json")
    assert 0 == code, err
    states = [json.loads(line) for line in out.splitlines()]
    assert {job["id"]} == {state["id"] for state in states}
    assert "completed" == states[-1]["status"]
    listed = as_json(capsys, "jobs", "list", *auth, "--limit", "2")
    assert 2 == len(listed)
    assert job["id"] == listed[0]["id"]
    shown = as_json(capsys, "jobs", "show", job["id"], *auth)
    assert (job["id"], ["video.generation.completed"]) == (
        shown["job"]["id"],
        [e["event_type"] for e in shown["deliveries"]["events"]],
    )
    again = as_json(capsys, "jobs", "redeliver", job["id"], *auth)
    assert [e["event_id"] for e in shown["deliveries"]["events"]] == [
        e["event_id"] for e in again["events"]
    ]


def test_url_and_key_come_from_the_caller_environment(
    live: LiveStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_URL", live.url)
    monkeypatch.setenv("GATEWAY_KEY", live.key)
    assert isinstance(as_json(capsys, "jobs", "list", "--limit", "1"), list)


def test_the_dev_key_is_found_for_the_dev_url_only(
    live: LiveStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With no key given, the key gateway dev stored for its URL is used for that URL alone."""
    port = int(live.url.rsplit(":", 1)[1])
    dev_settings(
        Settings(client_api_key=live.key, client_webhook_secret=live.secret),
        port=port,
        mock_port=port + 1,
        data_dir=tmp_path,
    )
    listed = as_json(capsys, "jobs", "list", "--url", live.url, "--dev-dir", str(tmp_path))
    assert isinstance(listed, list)
    elsewhere = live.url.replace("127.0.0.1", "localhost")  # the same server, another URL
    code, _, err = run(capsys, "jobs", "list", "--url", elsewhere, "--dev-dir", str(tmp_path))
    assert 1 == code
    assert "GATEWAY_KEY" in err


def test_failures_are_one_line_and_a_status(
    live: LiveStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused job (400), an unknown job (404), a bad --param (2) and a failed job (1)."""
    auth = ["--url", live.url, "--key", live.key]
    code, _, err = run(capsys, "submit", *auth, "--prompt", "x", "--param", "duration=99")
    assert (1, True) == (code, "invalid_request" in err)
    code, _, err = run(capsys, "jobs", "show", "job_doesnotexist", *auth)
    assert (1, True) == (code, "not_found" in err)
    code, _, err = run(capsys, "submit", *auth, "--prompt", "x", "--param", "oops")
    assert (2, True) == (code, "KEY=VALUE" in err)
    code, out, _ = run(capsys, "submit", *auth, "--prompt", "[mock:job_error] x", "--wait")
    assert 1 == code
    assert " failed: " in out.strip().splitlines()[-1]
    code, _, err = run(capsys, "jobs", "list", "--url", live.url, "--key", "kä")
    assert (2, True) == (code, "ASCII" in err)


def test_watch_gives_up_at_its_timeout(live: LiveStack, capsys: pytest.CaptureFixture[str]) -> None:
    """A job that never ends: watch stops at --timeout with status 1; the job runs on."""
    auth = ["--url", live.url, "--key", live.key]
    job = as_json(capsys, "submit", *auth, "--prompt", "[mock:stuck_generating] forever")
    code, _, err = run(capsys, "jobs", "watch", job["id"], *auth, "--timeout", "1")
    assert (1, True) == (code, "timed out" in err)


def _dev_credentials(directory: Path, url: str, key: str) -> None:
    """What ``gateway dev`` leaves in its data directory (its URL and its client's key)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "credentials.json").write_text(
        json.dumps({"url": url, "client_api_key": key, "client_webhook_secret": SECRET})
    )


def test_the_url_gateway_dev_saved_is_used_when_none_is_given(
    live: LiveStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No --url and no GATEWAY_URL: the CLI calls the URL dev saved beside its key (dev may
    run on any port), not the default port."""
    _dev_credentials(tmp_path, live.url, live.key)
    assert isinstance(as_json(capsys, "jobs", "list", "--dev-dir", str(tmp_path)), list)


def test_gateway_url_wins_over_the_url_dev_saved(
    live: LiveStack,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """GATEWAY_URL is the caller's choice: dev's saved URL (and so its key) is not used."""
    _dev_credentials(tmp_path, f"http://127.0.0.1:{free_port()}", "gw_dev_other")
    monkeypatch.setenv("GATEWAY_URL", live.url)
    monkeypatch.setenv("GATEWAY_KEY", live.key)
    assert isinstance(as_json(capsys, "jobs", "list", "--dev-dir", str(tmp_path)), list)


@pytest.mark.parametrize(
    ("how", "source"),
    [("dev", "gateway dev's"), ("flag", "--url"), ("environment", "GATEWAY_URL")],
)
def test_nothing_answering_is_one_line_naming_the_url_and_how_to_choose(
    how: str,
    source: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A URL where nothing listens: status 1 and one line on stderr with the URL tried, where
    it came from and how to choose another (--url, GATEWAY_URL); no traceback."""
    url = f"http://127.0.0.1:{free_port()}"
    argv = ["jobs", "list", "--dev-dir", str(tmp_path)]
    if how == "dev":
        _dev_credentials(tmp_path, url, "gw_dev_key")
    elif how == "flag":
        argv += ["--url", url]
    else:
        monkeypatch.setenv("GATEWAY_URL", url)
    code, out, err = run(capsys, *argv)
    assert (1, "", 1) == (code, out, len(err.splitlines())), err
    assert [True, True, True, True] == [
        f"nothing answers at {url}" in err,
        source in err,
        "--url" in err,
        "GATEWAY_URL" in err,
    ], err


def test_a_refused_connection_is_not_retried_before_the_gateway_has_answered() -> None:
    """The CLI's retries: a refused connection fails at once while nothing has answered yet
    (a person learns now that nothing listens there, not after the client's backoff), and is
    retried again once the gateway has answered (a watch outlives a gateway restart)."""
    retries = caller_retries()
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    before = retries.after_error(refused, 1, idempotent=True)
    retries.after_response(httpx.Response(200), 1)
    after = retries.after_error(refused, 1, idempotent=True)
    assert (None, True) == (before, after is not None and after > 0)


def test_download_saves_the_kept_video_checked(
    keeping: LiveStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``gateway jobs download ID``: the kept copy, through its signed link, SHA-256 checked,
    saved as JOB_ID.mp4 here (or --output); a job without a video is a one-line refusal."""
    monkeypatch.chdir(tmp_path)
    stack = keeping
    auth = ["--url", stack.url, "--key", stack.key]
    code, out, err = run(capsys, "submit", *auth, "--prompt", "keep it", "--wait", "--json")
    assert 0 == code, err
    job = json.loads(out.strip().splitlines()[-1])  # the watched states, one per line
    assert "completed" == job["status"], job
    saved = as_json(capsys, "jobs", "download", job["id"], *auth)
    expected = hashlib.sha256(SAMPLE_MP4.read_bytes()).hexdigest()
    assert (f"{job['id']}.mp4", expected) == (saved["path"], saved["sha256"])
    assert SAMPLE_MP4.read_bytes() == (tmp_path / saved["path"]).read_bytes()
    code, out, _ = run(capsys, "jobs", "download", job["id"], *auth, "-o", "x.mp4")
    assert 0 == code
    assert "kept copy" in out
    pending = as_json(capsys, "submit", *auth, "--prompt", "not yet")
    code, _, err = run(capsys, "jobs", "download", pending["id"], *auth)
    assert (2, 1) == (code, err.count("\n"))
    assert "no video" in err
