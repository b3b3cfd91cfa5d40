"""The code samples of the documentation: every fenced block of every page, with its markers.

Pages are the Markdown files under ``docs/``, ``README.md`` and the READMEs the site mirrors
(``docs/hooks/mirror.py``). A block is a fence (```` ``` ```` or ``~~~``, indented or not) with a
language; the comment lines just above it (``<!-- sample: KIND[ ARGUMENT] -->``) are its markers.
``docs/development/contributing.md`` ("Every sample runs") says what each language and marker
means to the tests.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"

LANGUAGES = {"python", "sh", "json", "text"}
MARKER = re.compile(r"^\s*<!-- sample: (?P<kind>[a-z]+)(?::?\s+(?P<argument>.*?))? -->\s*$")
KINDS = {"expect", "schema", "help", "skip"}
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<info>[^`\s]*)")


@dataclass(frozen=True)
class Block:
    page: str  # repository path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    def marker(self, kind: str) -> str | None:
        return self.markers.get(kind)


def mirrored() -> dict[str, str]:
    """Repository path → site page, as the site's mirror hook has it."""
    spec = importlib.util.spec_from_file_location("docs_mirror", DOCS / "hooks" / "mirror.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.MIRRORED)


def pages() -> list[str]:
    """Every page whose samples the tests run, as repository paths."""
    under_docs = sorted(
        str(path.relative_to(ROOT))
        for path in DOCS.rglob("*.md")
        if "hooks" not in path.relative_to(DOCS).parts
    )
    return ["README.md", *under_docs, *sorted(mirrored())]


def blocks(page: str) -> list[Block]:
    """The fenced blocks of ``page``, in order."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end])
            end += 1
        markers: dict[str, str] = {}
        above = index - 1
        while above >= 0 and (marker := MARKER.match(lines[above])):
            markers[marker["kind"]] = marker["argument"] or ""
            above -= 1
        found.append(
            Block(
                page, index + 1, opening["info"], textwrap.dedent("\n".join(body)) + "\n", markers
            )
        )
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks(page)]


def marker_problems(page: str) -> list[str]:
    """Markers of ``page`` that are malformed, of an unknown kind, or followed by no block."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    problems = []
    for number, line in enumerate(lines, start=1):
        if not line.strip().startswith("<!-- sample"):
            continue
        marker = MARKER.match(line)
        after = number  # the next line's index
        while after < len(lines) and MARKER.match(lines[after]):
            after += 1
        if marker is None:
            problems.append(f"{page}:{number}: malformed marker {line.strip()!r}")
        elif marker["kind"] not in KINDS:
            problems.append(f"{page}:{number}: unknown marker kind {marker['kind']!r}")
        elif after >= len(lines) or not _FENCE.match(lines[after]):
            problems.append(f"{page}:{number}: no block follows the marker")
    return problems


# --- shell ------------------------------------------------------------------------------------


def commands(code: str) -> list[list[str]]:
    """The simple commands of a shell block: continuation lines joined, comments dropped, split
    on ``&&``, ``||``, ``;`` and ``|``."""
    found: list[list[str]] = []
    for line in code.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if token in {"&&", "||", ";", "|", "&"}:
                if current:
                    found.append(current)
                current = []
            else:
                current.append(token)
        if current:
            found.append(current)
    return found


@dataclass(frozen=True)
class HelpCheck:
    argv: list[str]  # the program (and its subcommands), to run with --help
    options: list[str]  # every option the line uses


def help_check(command: list[str]) -> HelpCheck:
    """What ``--help`` must show for one documented command: environment assignments and
    ``uv run`` dropped, ``python -m MODULE`` kept whole, and the subcommands after it."""
    words = list(command)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        words.pop(0)
    if words[:2] == ["uv", "run"]:
        words = words[2:]
    if words[:1] == ["python3"]:
        words[0] = "python"  # the environment's interpreter
    size = 3 if words[:2] == ["python", "-m"] else 1
    program, rest = words[:size], words[size:]
    leading = []  # subcommands; a path or a value (``tests/docs``, ``google/veo3``) ends them
    for word in rest:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        leading.append(word)
    options = [word.split("=", 1)[0] for word in rest if word.startswith("-")]
    return HelpCheck([*program, *leading], options)
