"""The client package stands alone: its own distribution, two dependencies, no gateway import."""

from __future__ import annotations

import tomllib
from pathlib import Path

import gateway_client

PACKAGE = Path(gateway_client.__file__).parent
PROJECT = Path(__file__).parents[2] / "clients" / "python"


def test_it_depends_on_httpx_and_standardwebhooks_only() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    names = [
        dep.split(">")[0].split("<")[0].split("=")[0].strip() for dep in project["dependencies"]
    ]
    assert ("video-webhook-gateway-client", ["httpx", "standardwebhooks"]) == (
        project["name"],
        sorted(names),
    )


def test_it_never_imports_the_gateway() -> None:
    sources = {p.name: p.read_text() for p in PACKAGE.glob("*.py")}
    assert {} == {
        name: text
        for name, text in sources.items()
        if "import gateway." in text or "from gateway." in text or "from gateway import" in text
    }


def test_it_is_typed_and_its_public_surface_exists() -> None:
    """py.typed ships; everything in __all__ exists; nothing private is exported."""
    assert (PACKAGE / "py.typed").exists()
    assert [] == [name for name in gateway_client.__all__ if not hasattr(gateway_client, name)]
    assert [] == [n for n in gateway_client.__all__ if n.startswith("_") and n != "__version__"]
