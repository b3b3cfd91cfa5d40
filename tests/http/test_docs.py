"""The API docs page loads only assets the gateway serves itself: it works offline."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from gateway.http.docs import ASSETS_DIR
from tests.http.conftest import Api


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_the_docs_page_references_only_local_assets_which_are_served(
    api: Api, page: str
) -> None:
    response = await api.http.get(page)
    assert 200 == response.status_code
    assert response.headers["content-type"].startswith("text/html")
    references = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
    assert len(references) >= 4, references  # the bundle, the preset, the stylesheet, the icon
    assert not re.search(r"https?://", response.text.split("<body>")[0]), "a remote asset"
    for reference in references:
        assert not urlsplit(reference).netloc, reference
        asset = await api.http.get(reference)
        assert 200 == asset.status_code, reference
        name = reference.rsplit("/", 1)[-1]
        assert (ASSETS_DIR / name).read_bytes() == asset.content
    assert "SwaggerUIBundle(" in response.text
    assert "Mona Lisa" in response.text  # the job body's example is in the embedded document


async def test_the_vendored_ui_carries_its_licence() -> None:
    licence = (ASSETS_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence
