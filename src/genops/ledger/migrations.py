"""The ledger schema, as a named, ordered, append-only list of migrations.

Never edit or reorder a released migration: add a new one at the end. Applied migrations are
recorded in `genops_schema_migrations (name, applied_at)`; opening a ledger applies the missing
ones under a lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL an advisory lock), so concurrent openers
are safe. The same text serves both backends; `{bigint}`, `{double}` and `{money}` become the
dialect's types (`{without_rowid}` makes a SQLite table clustered on its primary key). A migration
may also fill a new table from existing rows (`backfill`, run in the same transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._clock import now
from .rollups import Run, RunMany, backfill_hourly
from .rows import DAILY_TABLE, EVENTS_TABLE, HOURLY_TABLE, MIGRATIONS_TABLE

TYPES = {
    "sqlite": {"bigint": "INTEGER", "double": "REAL", "money": "INTEGER", "without_rowid": " WITHOUT ROWID"},
    # Per-event picodollars fit BIGINT (up to $9.2M per event); rollup sums use NUMERIC.
    "postgres": {"bigint": "BIGINT", "double": "DOUBLE PRECISION", "money": "NUMERIC(38, 0)", "without_rowid": ""},
}


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]
    backfill: Callable[[Run, RunMany], None] | None = None

    def sql(self, dialect: str) -> list[str]:
        return [s.format(**TYPES[dialect]) for s in self.statements]


CREATE_MIGRATIONS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
)"""


def _rollup_table(table: str, bucket: str, suffix: str = "") -> str:
    """A rollup table: sums per time bucket (its first column, e.g. `day TEXT`) and group.

    Its text is part of the released migrations 0002 and 0003: never change it (a new column
    needs a new migration)."""
    bucket_column = bucket.split()[0]
    return f"""
            CREATE TABLE {table} (
                {bucket} NOT NULL,
                group_key TEXT NOT NULL,
                team TEXT,
                project TEXT,
                customer_id TEXT,
                provider TEXT,
                model TEXT,
                operation TEXT,
                environment TEXT,
                operation_kind TEXT,
                status TEXT,
                requests {{bigint}} NOT NULL,
                unknown_cost_requests {{bigint}} NOT NULL,
                inexact_cost_requests {{bigint}} NOT NULL,
                cost_pico {{money}} NOT NULL,
                input_tokens {{money}} NOT NULL,
                output_tokens {{money}} NOT NULL,
                cached_input_tokens {{money}} NOT NULL,
                reasoning_tokens {{money}} NOT NULL,
                PRIMARY KEY ({bucket_column}, group_key)
            ){suffix}"""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_events",
        (
            f"""
            CREATE TABLE {EVENTS_TABLE} (
                id TEXT PRIMARY KEY,
                start_us {{bigint}} NOT NULL,
                end_us {{bigint}} NOT NULL,
                provider TEXT NOT NULL,
                operation_kind TEXT NOT NULL,
                request_model TEXT,
                response_model TEXT,
                model TEXT,
                input_tokens {{bigint}},
                output_tokens {{bigint}},
                cached_input_tokens {{bigint}},
                cache_write_tokens {{bigint}},
                reasoning_tokens {{bigint}},
                usage_units TEXT NOT NULL,
                usage_provenance TEXT NOT NULL,
                cost_pico {{bigint}},
                cost_usd TEXT,
                cost_inexact SMALLINT NOT NULL DEFAULT 0,
                cost_input TEXT,
                cost_output TEXT,
                cost_components TEXT NOT NULL,
                currency TEXT NOT NULL,
                price_source TEXT,
                price_version TEXT,
                team TEXT,
                project TEXT,
                customer_id TEXT,
                user_id TEXT,
                environment TEXT,
                operation TEXT,
                service TEXT,
                attributes TEXT NOT NULL,
                latency_ms {{double}} NOT NULL,
                status TEXT NOT NULL,
                error_type TEXT,
                stream SMALLINT NOT NULL,
                decisions TEXT NOT NULL,
                substituted_from TEXT,
                recorded_us {{bigint}} NOT NULL
            )""",
            f"CREATE INDEX {EVENTS_TABLE}_start ON {EVENTS_TABLE} (start_us)",
            f"CREATE INDEX {EVENTS_TABLE}_team_start ON {EVENTS_TABLE} (team, start_us)",
            f"CREATE INDEX {EVENTS_TABLE}_customer_start ON {EVENTS_TABLE} (customer_id, start_us)",
            # Rows whose picodollar rounding was inexact: totals add back their exact remainder.
            f"CREATE INDEX {EVENTS_TABLE}_inexact ON {EVENTS_TABLE} (start_us) WHERE cost_inexact = 1",
        ),
    ),
    Migration("0002_daily_spend", (_rollup_table(DAILY_TABLE, "day TEXT"),)),
    # Hourly sums, so a calendar period in a non-UTC timezone is answered from rollups too (see plan.py).
    Migration(
        "0003_hourly_spend",
        (_rollup_table(HOURLY_TABLE, "hour_us {bigint}", "{without_rowid}"),),
        backfill=backfill_hourly,
    ),
)


def check_order(migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    """Names are unique and sorted (a guard against editing the list carelessly)."""
    names = [m.name for m in migrations]
    if names != sorted(set(names)):
        raise RuntimeError(f"ledger migrations must be uniquely named and ordered: {names}")


def migrate(
    run: Callable[[str, Sequence[Any]], Any], applied: set[str], dialect: str, run_many: RunMany | None = None
) -> list[str]:
    """Apply the migrations not in `applied` with `run(sql, params)` / `run_many(sql, rows)` (`?`
    placeholders), recording each; the caller holds the migration lock and the transaction.
    Returns the names applied."""
    check_order()
    done = []
    for migration in MIGRATIONS:
        if migration.name in applied:
            continue
        for statement in migration.sql(dialect):
            run(statement, ())
        if migration.backfill is not None:
            migration.backfill(run, run_many or (lambda sql, rows: [run(sql, row) for row in rows]))
        run(f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)", (migration.name, now().isoformat()))
        done.append(migration.name)
    return done


def pending(applied: set[str]) -> list[str]:
    return [m.name for m in MIGRATIONS if m.name not in applied]
