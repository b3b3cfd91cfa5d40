"""Every error code is one class of the tree in ``gateway/errors.py``: unique, a 4xx or 5xx, in the
OpenAPI document and the docs' error-code reference, and never spelled as a literal anywhere
else in the gateway."""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import get
from litestar.testing import AsyncTestClient

from gateway import errors
from gateway.app import create_app
from gateway.errors import NOT_PER_OPERATION, GatewayError, error_classes, for_status
from gateway.http.errors import documented_errors
from gateway.settings import Settings
from tests.http.conftest import api_settings, gateway_app

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "gateway"
TREE_MODULE = PACKAGE / "errors.py"
TREE = list(error_classes())
_CODES_IN = re.compile(r"\(code: (?P<codes>[a-z_, ]+)\)$")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(Settings(), run_worker=False).openapi_schema.to_schema()
    return schema


def _documented(document: dict[str, Any]) -> Iterator[tuple[str, int, str]]:
    """(operation, status, code) for every code an operation's error answers list."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                match = _CODES_IN.search(response.get("description", ""))
                if status[0] in "45" and match:
                    for code in match["codes"].split(", "):
                        yield f"{method.upper()} {path}", int(status), code


def test_the_tree_is_the_whole_hierarchy() -> None:
    """Every class is reached from the root once; the tree holds more than the root."""
    assert GatewayError is TREE[0]
    assert len(TREE) == len(set(TREE)) > 10
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, GatewayError)
    }
    assert defined == set(TREE)


@pytest.mark.parametrize("cls", TREE, ids=lambda cls: cls.__name__)
def test_every_class_has_its_own_code_an_error_status_and_a_summary(
    cls: type[GatewayError],
) -> None:
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code), cls.code
    assert [cls] == [other for other in TREE if other.code == cls.code]
    assert 400 <= cls.status_code <= 599
    assert cls.summary
    assert cls.summary == cls().message  # the summary is the default message


@pytest.mark.parametrize("cls", TREE, ids=lambda cls: cls.__name__)
def test_every_class_is_documented(document: dict[str, Any], cls: type[GatewayError]) -> None:
    """Under at least one operation, with its own status; or, for an answer no operation gives
    (405, the last-resort 500), in the document's description."""
    if cls in NOT_PER_OPERATION:
        assert f"{cls.status_code} {cls.code}:" in document["info"]["description"]
        return
    operations = [op for op, status, code in _documented(document) if code == cls.code]
    assert operations, f"{cls.__name__} ({cls.code}) is in no operation's documented answers"
    statuses = {status for _, status, code in _documented(document) if code == cls.code}
    assert {cls.status_code} == statuses


def test_documented_codes_are_the_trees(document: dict[str, Any]) -> None:
    """No operation documents a code the tree does not have (none invented in a description)."""
    documented = {code for _, _, code in _documented(document)}
    assert documented
    assert documented <= {cls.code for cls in TREE}


def test_documented_errors_groups_the_given_classes_by_status() -> None:
    """One entry per status, its codes in tree order, 503 always (every route uses the store)."""
    specs = documented_errors(errors.RateLimited, errors.TooManyJobsInFlight, errors.NotFound)
    assert [404, 429, 503] == list(specs)
    assert specs[429].description.endswith("(code: rate_limited, too_many_jobs_in_flight)")
    assert specs[429].description.startswith(errors.RateLimited.summary)
    assert specs[503].description.endswith("(code: service_unavailable, store_unavailable)")
    drop_in = documented_errors(errors.NothingToRedeliver, drop_in=True)
    assert [400, 503] == list(drop_in)
    assert "code:" not in drop_in[400].description  # the upstream's shape has no code


def test_the_error_code_reference_lists_every_code_with_its_status() -> None:
    """The docs' page (``docs/reference/errors.md``) is rendered from the tree at build time;
    each class needs a docstring saying when it happens and "What to do:"."""
    spec = importlib.util.spec_from_file_location(
        "docs_generated", ROOT / "docs/hooks/generated.py"
    )
    assert spec is not None
    assert spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = hook.render_error_codes(TREE)
    rows = set(re.findall(r"^\| `(\d{3})` \| \[`([a-z_]+)`\]", page, flags=re.MULTILINE))
    assert {(str(cls.status_code), cls.code) for cls in TREE} == rows
    assert "<!-- generated: error-codes -->" in (ROOT / "docs/reference/errors.md").read_text()


def test_framework_statuses_answer_with_the_trees_codes() -> None:
    """Routing, parameter and body-size errors map onto the tree; a status it has no class for
    keeps its status with the nearest general code."""
    assert errors.InvalidRequest is for_status(400)
    assert errors.NotFound is for_status(404)
    assert errors.MethodNotAllowed is for_status(405)
    assert errors.PayloadTooLarge is for_status(413)
    assert errors.ServiceUnavailable is for_status(503)
    assert errors.InvalidRequest is for_status(418)
    assert GatewayError is for_status(500) is for_status(502)


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        (errors.StoreUnavailable(), "5"),
        (errors.TooManyJobsInFlight(), "30"),
        (errors.TooManyJobsInFlight(retry_after_s=2.2), "3"),
        (errors.RateLimited("slow down", retry_after_s=0.1), "1"),
        (errors.NotFound(), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, GatewayError) else str(value),
)
async def test_a_raised_class_answers_its_status_code_and_retry_after(
    tmp_path: Path, error: GatewayError, retry_after: str | None
) -> None:
    """The class alone decides status and code; Retry-After from its default or the raise site."""

    @get("/v1/boom", sync_to_thread=False)
    def boom() -> None:
        raise error

    async with AsyncTestClient(
        app=gateway_app(api_settings(tmp_path), extra_route_handlers=[boom])
    ) as http:
        response = await http.get("/v1/boom")
    assert type(error).status_code == response.status_code
    assert {
        "error": {"code": type(error).code, "message": error.message, "details": []}
    } == response.json()
    assert retry_after == response.headers.get("retry-after")


def _literal_codes(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Where an error code is written as a literal: ``code="…"`` in a call, ``code = "…"`` in a
    class, or a string as the code of a ``Failure(status, code, …)``/``error_response(…)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code":
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                yield node.value.lineno, f'code="{node.value.value}"'
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = any(isinstance(t, ast.Name) and t.id == "code" for t in targets)
            if named and isinstance(node.value, ast.Constant):
                yield node.lineno, f"code = {node.value.value!r}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            code = node.args[1] if len(node.args) > 1 else None  # (status, code, message, …)
            if name in {"Failure", "error_response"} and isinstance(code, ast.Constant):
                yield node.lineno, f"{name}(…, {code.value!r}, …)"


def test_the_literal_scan_finds_what_it_looks_for() -> None:
    """The scan below is not vacuous: it finds each form it forbids."""
    source = (
        "raise InvalidRequest('no', code='made_up')\n"
        "class Mine(GatewayError):\n    code = 'mine'\n"
        "respond(request, Failure(400, 'inline', 'no'))\n"
    )
    assert 3 == len(list(_literal_codes(ast.parse(source))))


def test_no_error_code_is_spelled_outside_the_tree() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != TREE_MODULE
        for line, what in _literal_codes(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert [] == found
