"""Policy store backends for tests: `policy_storage` runs a test on each of

- `sqlite`: ledger and policy tables in one SQLite file;
- `postgres`: ledger and policy tables in a fresh PostgreSQL schema;
- `redis`: a fresh PostgreSQL ledger with budget counters, rate windows, overrides and alert
  claims in Redis (127.0.0.1:6379, database `REDIS_TEST_DB`, flushed before each test).

Import into a test module: `from policy_backends import policy_storage, redis_url  # noqa: F401`.
"""

from __future__ import annotations

from typing import Any

import pytest

REDIS_TEST_DB = 13
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
BACKENDS = ["sqlite", "postgres", "redis"]


@pytest.fixture
def redis_url() -> str:
    """A Redis database of its own, emptied for this test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL


@pytest.fixture(params=BACKENDS)
def policy_storage(request: Any, tmp_path: Any) -> dict[str, str]:
    """The `storage` settings of a fresh ledger + policy store, on each backend in turn."""
    if request.param == "sqlite":
        return {"url": f"sqlite:///{tmp_path}/ledger.db"}
    ledger = request.getfixturevalue("pg_schemas")()
    if request.param == "postgres":
        return {"url": ledger}
    return {"url": ledger, "counters_url": request.getfixturevalue("redis_url")}
