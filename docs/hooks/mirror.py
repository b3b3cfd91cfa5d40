"""MkDocs hook: READMEs that live beside their code, shown as pages of the site.

Each file of ``MIRRORED`` stays where it is (next to what it describes, read there on a
checkout) and appears in the site at its page path. Relative links in it are rewritten for the
site: to another mirrored file or to a page under ``docs/``, a link to that page; to any other
file of the repository, the path as code (the site has no copy of the code to link to).
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.mirror")

# repository path → page path in the site
MIRRORED = {
    "bench/README.md": "development/benchmarks.md",
    "clients/python/README.md": "reference/python-client.md",
    "deploy/README.md": "guides/operating/deploy.md",
    "mock_upstream/README.md": "development/mock-upstream.md",
}
DOCS = "docs"
_LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|#|/)", re.IGNORECASE)


def rewrite_links(markdown: str, source: str) -> str:
    """``markdown`` read from repository path ``source``, its relative links made right for the
    page ``MIRRORED[source]``."""
    page = MIRRORED[source]

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        if _EXTERNAL.match(target):
            return match[0]
        path, _, anchor = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        if repo_path in MIRRORED:
            site_path = MIRRORED[repo_path]
        elif repo_path.startswith(f"{DOCS}/"):
            site_path = repo_path.removeprefix(f"{DOCS}/")
        else:
            if match["bang"]:
                log.warning("%s: the image %s is outside docs/", source, target)
            text = match["text"]
            if text.strip("`") in (repo_path, posixpath.basename(repo_path), path):
                return f"`{repo_path}`"
            return f"{text} (`{repo_path}`)"
        relative = posixpath.relpath(site_path, posixpath.dirname(page))
        return f"{match['bang']}[{match['text']}]({relative}{'#' + anchor if anchor else ''})"

    return _LINK.sub(replace, markdown)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    root = Path(config.config_file_path).parent
    for source, page in MIRRORED.items():
        content = rewrite_links((root / source).read_text(encoding="utf-8"), source)
        files.append(File.generated(config, page, content=content))
    return files


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    """``mkdocs serve`` rebuilds when a mirrored file changes."""
    root = Path(config.config_file_path).parent
    for source in MIRRORED:
        server.watch(str(root / source))
    return server
