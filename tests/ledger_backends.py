"""Ledger backends for tests: `store_url` runs a test once on SQLite and once on PostgreSQL.

PostgreSQL (127.0.0.1:5432, user postgres, database `test`, trust auth) gets a fresh schema per
test, named after this session, dropped at the end. If PostgreSQL is down the postgres variant
fails (set GENOPS_TEST_SKIP_POSTGRES=1 to skip it instead).

Import the fixtures into a test module: `from ledger_backends import pg_schemas, store_url` (tests/conftest.py does).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from genops.events import Attribution, Cost, Usage, UsageEvent

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[Callable[[], str]]:
    """`make()` -> the URL of a new, empty schema in the test database."""
    import psycopg

    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("GENOPS_TEST_SKIP_POSTGRES") == "1":
            pytest.skip(f"PostgreSQL unavailable: {exc}")
        raise
    prefix = f"genops_test_{os.getpid()}_{secrets.token_hex(3)}"
    created: list[str] = []

    def make() -> str:
        name = f"{prefix}_{len(created)}"
        admin.execute(f'CREATE SCHEMA "{name}"')
        created.append(name)
        return f"{PG_DSN}?options=-csearch_path%3D{name}"

    yield make
    for name in created:
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: Any, tmp_path: Any) -> str:
    """A ledger URL nobody has opened yet, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    return request.getfixturevalue("pg_schemas")()


T0 = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def make_event(
    event_id: str,
    start: datetime = T0,
    *,
    cost: str | None = "0.001",
    team: str | None = "support",
    project: str | None = None,
    customer_id: str | None = None,
    user_id: str | None = None,
    operation: str | None = None,
    environment: str | None = "production",
    provider: str = "openai",
    kind: str = "chat",
    model: str | None = "gpt-4o-mini",
    response_model: str | None = None,
    input_tokens: int | None = 100,
    output_tokens: int | None = 50,
    status: str = "ok",
) -> UsageEvent:
    """A usage event with the given figures (cost None = unknown price)."""
    return UsageEvent(
        id=event_id,
        start_time=start,
        end_time=start,
        provider=provider,
        operation_kind=kind,
        request_model=model,
        response_model=response_model,
        usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        cost=Cost(total=Decimal(cost)) if cost is not None else Cost(total=None, source="unknown-model"),
        attribution=Attribution(
            team=team,
            project=project,
            customer_id=customer_id,
            user_id=user_id,
            operation=operation,
            environment=environment,
        ),
        latency_ms=10.0,
        status=status,  # type: ignore[arg-type]
    )
