"""Reading the committed model catalogue (``contracts/video-models.json``) from disk.

The file sits beside the ``gateway`` package in a checkout and in the installed wheel (which
force-includes ``contracts``). It is read once at start-up; nothing reads ``../shared``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from gateway.domain.catalogue import Catalogue, decode_catalogue

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "contracts" / "video-models.json"


@cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    """The catalogue (cached per path: it is immutable data, and tests build many apps)."""
    return decode_catalogue(path.read_bytes())
