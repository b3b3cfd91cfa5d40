"""The mock honours the patched contract: schemathesis generates requests from it and checks
every response (status codes, content types, bodies) against it. Seeded and bounded."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from mock_upstream.app import create_app
from mock_upstream.config import MockConfig

CONTRACT = Path(__file__).parents[2] / "contracts" / "upstream" / "openapi.patched.json"

schema = schemathesis.openapi.from_path(str(CONTRACT))
schema.app = create_app(MockConfig.fast(strict=True, expected_key="test-key"))


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_mock_conforms_to_the_patched_contract(case: schemathesis.Case) -> None:
    """No 5xx; every answer is one the contract documents, with a body of the documented shape."""
    case.call_and_validate(headers={"Authorization": "Bearer test-key"})
