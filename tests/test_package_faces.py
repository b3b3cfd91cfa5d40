"""Each package used from outside has a face: ``__all__`` names exactly the public names it
exports (as httpx's own test holds ``httpx.__all__`` to), so a name added without being
exported, or exported without existing, fails here."""

from __future__ import annotations
import __future__

import importlib
from types import ModuleType

import pytest

FACES = [
    "gateway.caller",
    "gateway.console",
    "gateway.delivery",
    "gateway.http",
    "gateway.observability",
    "gateway.outputs",
    "gateway.service",
    "gateway.store",
    "gateway.testing",
    "gateway.upstream",
    "gateway.worker",
]


def _public(package: ModuleType) -> set[str]:
    """Names defined or imported in the package itself: not its submodules, not
    ``from __future__`` features, nothing private."""
    return {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        and not isinstance(value, __future__._Feature)
    }


@pytest.mark.parametrize("name", FACES)
def test_all_names_exactly_the_public_members(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__all__
    assert len(exported) == len(set(exported)), "a name is exported twice"
    assert sorted(_public(package)) == sorted(exported)
