"""The documentation site: it builds strictly and offline, its generated pages cover what they are
generated from, and the README stays a front page."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from gateway.cli import main
from gateway.errors import error_classes
from tests.docs.samples import DOCS, ROOT, commands, help_check

BIN = Path(sys.executable).parent


def hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / "hooks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nav_pages() -> list[str]:
    def walk(items: Any) -> list[str]:
        if isinstance(items, str):
            return [items]
        if isinstance(items, list):
            return [page for item in items for page in walk(item)]
        if isinstance(items, dict):
            return [page for value in items.values() for page in walk(value)]
        return []

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return walk(config["nav"])


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        (ROOT / "contracts" / "gateway.openapi.json").read_text(encoding="utf-8")
    )
    return value


# --- the build ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_site_builds_strictly_and_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    """``mkdocs build --strict`` (as CI runs it) succeeds, and no page or stylesheet pulls a
    script, a stylesheet, a font or an image from another host: the docs are read in closed
    networks. (Links to other sites are fine.)"""
    site = tmp_path / "site"
    result = subprocess.run(  # noqa: S603 (our own build)
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
        env={"PATH": str(BIN), "NO_MKDOCS_2_WARNING": "1", "HOME": str(tmp_path)},
    )
    assert 0 == result.returncode, result.stderr
    assert "WARNING" not in result.stderr
    loads = re.compile(
        r"<(?:script|link|img|iframe|source|video)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I
    )
    imports = re.compile(r"(?:@import|url\()\s*[\"']?(?:https?:)?//", re.I)
    remote = [
        str(path.relative_to(site))
        for path in [*site.rglob("*.html"), *site.rglob("*.css")]
        if (loads if path.suffix == ".html" else imports).search(path.read_text(errors="replace"))
    ]
    assert [] == remote
    for page in nav_pages():
        built = page.removesuffix(".md").removesuffix("index")
        assert (site / built / "index.html").exists() or (site / "index.html").exists(), page
    errors_page = (site / "reference" / "errors" / "index.html").read_text()
    assert [] == [cls.code for cls in error_classes() if f'id="{cls.code}"' not in errors_page]


def test_every_page_under_docs_is_in_the_nav() -> None:
    listed = set(nav_pages())
    written = {
        str(path.relative_to(DOCS))
        for path in DOCS.rglob("*.md")
        if "hooks" not in path.relative_to(DOCS).parts
    }
    assert set() == written - listed


# --- the API reference --------------------------------------------------------------------


def test_the_api_reference_has_every_operation_webhook_and_schema(
    document: dict[str, Any],
) -> None:
    pages = hook("openapi").render(document)
    text = "\n".join(pages.values())
    operation_ids = [
        operation["operationId"]
        for item in [*document["paths"].values(), *document["webhooks"].values()]
        for operation in item.values()
    ]
    assert len(operation_ids) > 20
    assert [] == [op for op in operation_ids if f"{{ #{op} }}" not in text]
    schemas = document["components"]["schemas"]
    assert [] == [name for name in schemas if f"## {name} {{ #{name} }}" not in pages["schemas.md"]]


def test_every_api_reference_page_is_in_the_nav(document: dict[str, Any]) -> None:
    """A new tag in the document makes a page; the nav must list it (the build warns too)."""
    generated = {f"reference/api/{name}" for name in hook("openapi").render(document)}
    assert set() == generated - set(nav_pages())


def test_an_operations_error_codes_link_to_the_error_reference(document: dict[str, Any]) -> None:
    jobs = hook("openapi").render(document)["jobs.md"]
    assert "[`idempotency_key_reused`](../errors.md#idempotency_key_reused)" in jobs


def test_schema_types_read_as_phrases() -> None:
    type_of = hook("openapi").type_of
    assert "string or null" == type_of({"oneOf": [{"type": "string"}, {"type": "null"}]})
    assert "array of [Job](schemas.md#Job)" == type_of(
        {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}
    )
    assert "one of `a`, `b`" == type_of({"enum": ["a", "b"]})


# --- the generated sections ---------------------------------------------------------------


def test_the_error_reference_says_when_and_what_to_do_for_every_code() -> None:
    page = hook("generated").render_error_codes(error_classes())
    for cls in error_classes():
        section = page.split(f"## `{cls.code}`", 1)[1].split("\n## ", 1)[0]
        assert f"**{cls.status_code}**" in section
        assert re.search(r"\*\*When\.\*\* \S", section), cls.code
        assert re.search(r"\*\*What to do\.\*\* [A-Z]", section), cls.code


def test_an_error_class_without_advice_fails_the_page() -> None:
    generated = hook("generated")
    vague = type(
        "Vague",
        (Exception,),
        {
            "__doc__": "Something went wrong.",
            "status_code": 400,
            "code": "vague",
            "summary": "Vague",
            "headers": {},
            "default_retry_after_s": None,
        },
    )  # not a class of the tree: a subclass there would join it for the rest of the run
    with pytest.raises(generated.Problem):
        generated.render_error_codes([*error_classes(), vague])


def test_the_settings_table_lists_every_setting_with_its_default() -> None:
    example = (ROOT / "deploy" / "gateway.env.example").read_text(encoding="utf-8")
    table = hook("generated").render_settings(example)
    settings = re.findall(r"^([A-Z_]+)=(.*)$", example, re.MULTILINE)
    assert len(settings) > 40
    for name, default in settings:
        shown = f"`{default}`" if default else "(empty)"
        assert f"| `{name}` | {shown} | " in table, name


def test_a_setting_without_a_comment_fails_the_table() -> None:
    generated = hook("generated")
    with pytest.raises(generated.Problem):
        generated.render_settings("# header\n\n# documented\nGATEWAY_A=1\n\nGATEWAY_B=2\n")


def test_the_cli_reference_has_every_command() -> None:
    page = hook("generated").render_cli(main)
    for path in ["", " jobs list", " jobs watch", " clients rotate-secret", " submit", " dev"]:
        assert f"`gateway{path}`" in page, path
    assert "--callback-url" in page


def test_every_metric_is_documented() -> None:
    source = (ROOT / "gateway" / "observability" / "metrics.py").read_text(encoding="utf-8")
    names = set(re.findall(r"\"(gateway_[a-z_]+)\"", source))
    page = (DOCS / "guides" / "operating" / "observability.md").read_text(encoding="utf-8")
    assert len(names) > 15
    assert set() == {name for name in names if f"`{name}" not in page}


# --- the mirrored READMEs -----------------------------------------------------------------


def test_mirrored_readmes_link_to_pages_or_name_the_file() -> None:
    mirror = hook("mirror")
    text = "[history](HISTORY.md#x), [client](../clients/python/README.md), [site](https://a.b/c)"
    assert (
        "history (`bench/HISTORY.md`), [client](../reference/python-client.md), [site](https://a.b/c)"
        == mirror.rewrite_links(text, "bench/README.md")
    )
    assert "`bench/HISTORY.md`" == mirror.rewrite_links(
        "[HISTORY.md](HISTORY.md)", "bench/README.md"
    )
    assert set(mirror.MIRRORED.values()) <= set(nav_pages())


# --- reading the samples ------------------------------------------------------------------


def test_shell_samples_split_into_commands() -> None:
    code = (
        "A=1 uv run gateway dev --port 9 \\\n  --mock-port 10  # a comment\n"
        'curl -s x | grep y && echo "a;b"\n'
    )
    assert [
        ["A=1", "uv", "run", "gateway", "dev", "--port", "9", "--mock-port", "10"],
        ["curl", "-s", "x"],
        ["grep", "y"],
        ["echo", "a;b"],
    ] == commands(code)


def test_a_help_check_keeps_the_program_and_its_subcommands() -> None:
    check = help_check(["A=1", "uv", "run", "gateway", "models", "google/veo3", "--json"])
    assert (["gateway", "models"], ["--json"]) == (check.argv, check.options)
    check = help_check(["uv", "run", "python", "-m", "bench.intake", "--seconds=3"])
    assert (["python", "-m", "bench.intake"], ["--seconds"]) == (check.argv, check.options)


# --- the README ---------------------------------------------------------------------------


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    assert "uv run gateway dev" in readme
    assert "uv run pytest" in readme
    assert re.search(r"!\[[^\]]+\]\(docs/|<img src=\"docs/", readme)
    linked = set(re.findall(r"\]\((docs/[^)#]+)", readme))
    assert len(linked) > 10
    assert [] == [path for path in linked if not (ROOT / path).exists()]
