"""The mock upstream with generations that stay ``generating`` for ten hours, so that every job
seeded by ``bench.in_flight`` stays in flight for the whole run.

``python -m bench.slow_mock PORT``
"""

from __future__ import annotations

import sys

import uvicorn

from mock_upstream.app import create_app
from mock_upstream.config import MockConfig

app = create_app(MockConfig(queued_s=1.0, generating_s=36_000.0, spread_s=0.0))

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
