"""MkDocs hook: sections of pages written from their sources at build time, so they cannot drift.

A page holds a marker line ``<!-- generated: NAME -->``; the build replaces it with:

- ``error-codes``: every class of the error tree (``gateway/errors.py``): its code, status,
  summary, headers, and its docstring's two parts (when it happens; "What to do:");
- ``settings``: every setting of ``deploy/gateway.env.example`` (which a test keeps equal to
  ``gateway/settings.py``) with its default and its comment;
- ``cli``: the ``--help`` of ``gateway`` and of each of its commands, from ``gateway.cli.main``.

An unknown marker, a class without "What to do:", or a setting without a comment is a warning,
so ``mkdocs build --strict`` fails. ``render_error_codes`` and ``render_settings`` are plain
functions of their sources (``tests/docs`` calls them); ``render_cli`` runs the CLI's own help.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.generated")

MARKER = re.compile(r"^<!-- generated: (?P<name>[a-z-]+) -->$", re.MULTILINE)
ADVICE = "What to do:"
ENV_EXAMPLE = "deploy/gateway.env.example"


class Problem(ValueError):
    """A source that cannot be rendered as documented."""


def render_error_codes(classes: Iterable[type[Any]]) -> str:
    """One table of every code, then one section each: status, class, parent, summary, extra
    headers, the default ``Retry-After``, when it happens and what to do."""
    classes = list(classes)
    root = classes[0]
    classes.sort(key=lambda cls: (cls.status_code, len(cls.__mro__), cls.code))  # general first
    lines = ["| status | code | summary |", "| --- | --- | --- |"]
    for cls in classes:
        lines.append(f"| `{cls.status_code}` | [`{cls.code}`](#{cls.code}) | {cls.summary} |")
    lines.append("")
    for cls in classes:
        when, advice = _docstring_parts(cls)
        parent = cls.__mro__[1]
        facts = [f"**{cls.status_code}**", f"class `{cls.__name__}`"]
        if parent is not root and hasattr(parent, "code"):
            facts.append(f"a kind of [`{parent.code}`](#{parent.code})")
        for name, value in cls.headers.items():
            facts.append(f"header `{name}: {value}`")
        if cls.default_retry_after_s is not None:
            facts.append(f"`Retry-After: {cls.default_retry_after_s:g}` unless said otherwise")
        lines += [
            f"## `{cls.code}` {{ #{cls.code} }}",
            "",
            " · ".join(facts),
            "",
            f"Default message: *{cls.summary.rstrip('.')}*.",
            "",
            f"**When.** {when}",
            "",
            f"**What to do.** {advice[:1].upper()}{advice[1:]}",
            "",
        ]
    return "\n".join(lines)


def _docstring_parts(cls: type[Any]) -> tuple[str, str]:
    text = inspect.cleandoc(cls.__doc__ or "")
    when, found, advice = text.partition(ADVICE)
    if not found or not when.strip() or not advice.strip():
        raise Problem(f"{cls.__name__}'s docstring needs a paragraph and then '{ADVICE} …'")
    return _markdown(when), _markdown(advice)


def render_settings(env_example: str) -> str:
    """A table of every setting: name, default, what it does (the comment above it; settings
    grouped under one comment share it)."""
    lines = ["| setting | default | what it does |", "| --- | --- | --- |"]
    body = env_example.partition("\n\n")[2]  # after the file's own header
    comment: list[str] = []
    after_setting = False
    count = 0
    for line in body.splitlines():
        if not line.strip():  # a blank line ends a group
            comment, after_setting = [], False
            continue
        if line.startswith("#"):
            if after_setting:  # a new comment: the one above no longer applies
                comment, after_setting = [], False
            comment.append(line.lstrip("#").strip())
            continue
        name, _, default = line.partition("=")
        if not comment:
            raise Problem(f"{name} in {ENV_EXAMPLE} has no comment above it")
        text = " ".join(comment).replace("|", "\\|")
        shown = f"`{default}`" if default else "(empty)"
        lines.append(f"| `{name}` | {shown} | {_markdown(text)} |")
        after_setting = True
        count += 1
    if not count:
        raise Problem(f"no setting found in {ENV_EXAMPLE}")
    return "\n".join(lines) + "\n"


def render_cli(main: Callable[[Sequence[str]], object], program: str = "gateway") -> str:
    """Each command's ``--help``, found by walking the ``{a,b,…}`` choices of every level."""
    sections: list[str] = []
    pending: list[list[str]] = [[]]
    while pending:
        path = pending.pop(0)
        text = _help(main, path)
        words = [program, *path]
        sections += [
            f"{'#' * min(len(path) + 2, 4)} `{' '.join(words)}` {{ #{'-'.join(words)} }}",
            "",
            "```text",
            text.rstrip(),
            "```",
            "",
        ]
        choices = re.search(r"^  \{(?P<names>[a-z,-]+)\}", text, re.MULTILINE)
        if choices:
            pending += [[*path, name] for name in choices["names"].split(",")]
    return "\n".join(sections)


def _help(main: Callable[[Sequence[str]], object], path: list[str]) -> str:
    out = io.StringIO()
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; the page is always as wide
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([*path, "--help"])
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return out.getvalue()


def _markdown(text: str) -> str:
    """reStructuredText's double backticks as Markdown code; one paragraph per blank line."""
    return re.sub(r"``([^`]+)``", r"`\1`", text).strip()


def _renderers(root: Path) -> dict[str, Callable[[], str]]:
    def error_codes() -> str:
        from gateway.errors import error_classes

        return render_error_codes(error_classes())

    def settings() -> str:
        return render_settings((root / ENV_EXAMPLE).read_text(encoding="utf-8"))

    def cli() -> str:
        from gateway.cli import main

        return render_cli(main)

    return {"error-codes": error_codes, "settings": settings, "cli": cli}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    renderers = _renderers(Path(config.config_file_path).parent)

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in renderers:
            log.warning("%s: unknown generated section %r", page.file.src_uri, name)
            return match[0]
        try:
            return renderers[name]()
        except Problem as problem:
            log.warning("%s: %s", page.file.src_uri, problem)
            return match[0]

    return MARKER.sub(replace, markdown)
