"""Every code sample of the documentation runs (``docs/development/contributing.md``, "Every sample
runs", says what each language and marker means): Python blocks run against a real
``gateway dev``, shell blocks run there too (or, for commands that run until stopped, show
``--help`` with every option they use), JSON blocks parse (and match their schema), and the few
illustrative blocks say why they are not run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.docs.conftest import DevGateway
from tests.docs.samples import (
    LANGUAGES,
    ROOT,
    Block,
    all_blocks,
    commands,
    help_check,
    marker_problems,
    pages,
)

BLOCKS = all_blocks()
DOCUMENTED_URL = "http://127.0.0.1:8000"
DOCUMENTED_HOOK = "https://example.com/hooks/video"
MOST_SKIPPED = 8  # illustrative blocks stay few: raise this only with a reason in the review
ERROR_ANSWER = re.compile(r'"error":\s*\{')
BIN = Path(sys.executable).parent
BASH = shutil.which("bash") or "/bin/bash"
# ``uv run X`` in a sample runs X from this environment (the one ``uv run pytest`` made).
SHELL_PRELUDE = """
uv() {
  if [ "$1" = run ]; then shift; "$@"; else echo "docs tests run only 'uv run'" >&2; return 2; fi
}
"""


def of(language: str, *kinds: str, without: tuple[str, ...] = ()) -> list[Block]:
    return [
        block
        for block in BLOCKS
        if block.language == language
        and all(kind in block.markers for kind in kinds)
        and not any(kind in block.markers for kind in without)
    ]


def ids(blocks: list[Block]) -> list[str]:
    return [block.id for block in blocks]


def for_dev(code: str, dev: DevGateway) -> str:
    """The sample as run: only the gateway's URL and the example receiver's are changed."""
    return code.replace(DOCUMENTED_HOOK, dev.hook_url).replace(DOCUMENTED_URL, dev.url)


def check_output(block: Block, output: str) -> None:
    expected = block.marker("expect")
    if expected is not None:
        assert re.search(expected, output, re.MULTILINE), (
            f"{block.id}: the output does not match {expected!r}:\n{output}"
        )
    else:
        assert not ERROR_ANSWER.search(output), f"{block.id} printed an error answer:\n{output}"


# --- every block is one the tests know ----------------------------------------------------


def test_the_samples_are_found() -> None:
    """The extraction sees the pages and their blocks (a broken reader would pass everything)."""
    assert {"README.md", "docs/getting-started.md", "clients/python/README.md"} <= set(pages())
    assert len(of("python")) >= 8
    assert len(of("sh")) >= 25


def test_every_block_has_a_language_the_tests_know() -> None:
    unknown = [f"{b.id} ({b.language or 'none'})" for b in BLOCKS if b.language not in LANGUAGES]
    assert [] == unknown


def test_every_marker_is_well_formed_and_followed_by_a_block() -> None:
    assert [] == [problem for page in pages() for problem in marker_problems(page)]


def test_illustrative_blocks_are_few_and_say_why() -> None:
    skipped = [block for block in BLOCKS if "skip" in block.markers]
    assert [] == [block.id for block in skipped if len(block.markers["skip"]) < 10]
    assert len(skipped) <= MOST_SKIPPED, ids(skipped)


def test_text_blocks_hold_no_commands() -> None:
    """``text`` is for output and wire formats; a command there would escape the tests."""
    command = re.compile(r"^\s*(\$ |uv |curl |python3? |pip |npm |docker |kubectl )", re.MULTILINE)
    assert [] == [block.id for block in of("text") if command.search(block.code)]


def test_markers_fit_their_blocks() -> None:
    """``schema`` is for JSON, ``help`` for shell; ``expect`` for what runs."""
    wrong = [b.id for b in BLOCKS if "schema" in b.markers and b.language != "json"]
    wrong += [b.id for b in BLOCKS if "help" in b.markers and b.language != "sh"]
    wrong += [b.id for b in BLOCKS if "expect" in b.markers and b.language not in {"sh", "python"}]
    assert [] == wrong


# --- JSON ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (ROOT / "contracts" / "gateway.openapi.json").read_text(encoding="utf-8")
    )
    return document


@pytest.mark.parametrize("block", of("json"), ids=ids(of("json")))
def test_json_blocks_parse_and_match_their_schema(block: Block, openapi: dict[str, Any]) -> None:
    value = json.loads(block.code)
    name = block.marker("schema")
    if name is not None:
        assert name in openapi["components"]["schemas"], name
        schema = {"$ref": f"#/components/schemas/{name}", "components": openapi["components"]}
        errors = [error.message for error in Draft202012Validator(schema).iter_errors(value)]
        assert [] == errors


# --- shell --------------------------------------------------------------------------------


@pytest.mark.parametrize("block", of("sh"), ids=ids(of("sh")))
def test_shell_blocks_parse(block: Block) -> None:
    result = subprocess.run(  # noqa: S603 (bash reads the block; -n runs nothing)
        [BASH, "-n"], input=block.code, capture_output=True, text=True, check=False
    )
    assert (0, "") == (result.returncode, result.stderr)


def shell_env(dev: DevGateway) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return {
        **env,
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "KEY": dev.key,
        "JOB": dev.job,
        "GATEWAY_DATABASE_URL": dev.database_url,
    }


RUN = of("sh", without=("skip", "help"))


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN, ids=ids(RUN))
def test_shell_blocks_run_against_gateway_dev(block: Block, dev: DevGateway) -> None:
    script = SHELL_PRELUDE + for_dev(block.code, dev)
    result = subprocess.run(  # noqa: S603 (our own documentation's commands, against loopback)
        [BASH, "-euo", "pipefail", "-c", script],
        cwd=dev.directory,
        env=shell_env(dev),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert 0 == result.returncode, f"{block.id}:\n{result.stdout}\n{result.stderr}"
    check_output(block, result.stdout)


HELP = of("sh", "help")


_HELP_TEXTS: dict[tuple[str, ...], str] = {}  # the same program's help, shown on several pages


def help_text(argv: tuple[str, ...]) -> str:
    if argv not in _HELP_TEXTS:
        result = subprocess.run(  # noqa: S603 (our own programs' --help)
            [*argv, "--help"],
            cwd=ROOT,
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
            capture_output=True,
            text=True,
            timeout=100,
            check=False,
        )
        assert 0 == result.returncode, f"{' '.join(argv)} --help:\n{result.stderr}"
        _HELP_TEXTS[argv] = result.stdout
    return _HELP_TEXTS[argv]


@pytest.mark.slow
@pytest.mark.parametrize("block", HELP, ids=ids(HELP))
def test_long_running_commands_take_the_options_shown(block: Block) -> None:
    """Each command's program runs with ``--help``, which lists every option the line uses."""
    checks = [help_check(command) for command in commands(block.code)]
    assert checks, block.id
    for check in checks:
        text = help_text(tuple(check.argv))
        missing = [
            option
            for option in check.options
            if not re.search(rf"(^|[\s,\[]){re.escape(option)}\b", text, re.MULTILINE)
        ]
        assert [] == missing, f"{block.id}: {' '.join(check.argv)} --help does not list {missing}"


# --- Python -------------------------------------------------------------------------------

PYTHON_PAGES = sorted({block.page for block in of("python", without=("skip",))})


@pytest.mark.slow
@pytest.mark.parametrize("page", PYTHON_PAGES)
def test_python_blocks_run_against_gateway_dev(page: str, dev: DevGateway) -> None:
    """A page's Python blocks run in order in one namespace, which starts with ``api_key``,
    ``signing_secret`` and a webhook the gateway sent (``request_body``, ``request_headers``)."""
    namespace: dict[str, Any] = {
        "__name__": "__docs__",
        "api_key": dev.key,
        "signing_secret": dev.secret,
        "request_body": dev.webhook.body,
        "request_headers": dev.webhook.headers,
    }
    for block in of("python", without=("skip",)):
        if block.page != page:
            continue
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(for_dev(block.code, dev), block.id, "exec"), namespace)  # noqa: S102 (our own docs)
        check_output(block, output.getvalue())
