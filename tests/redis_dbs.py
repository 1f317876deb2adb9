"""The loopback Redis databases the tests use, one per test folder, so no two folders flush each other's keys.

The PostgreSQL pass of the suite uses other databases than the SQLite pass (ten lower), so the two passes can run
side by side on one machine's Redis, as a developer checking both databases at once does.
"""

from __future__ import annotations

import os

# tests/tags: 11, tests/twins/test_live: 12, tests/ingest: 13, tests/test_redis and tests/security: 15;
# bench/_server.py uses 14 and is not shifted.
_SHIFT = -10 if os.environ.get("DATABASE_URL", "").startswith("postgres") else 0


def redis_url(db: int) -> str:
    """The URL of the test Redis database `db` (as numbered for the SQLite pass) in this pass of the suite."""
    return f"redis://127.0.0.1:6379/{db + _SHIFT}"
