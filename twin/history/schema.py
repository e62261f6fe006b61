"""The history file's schema: numbered forward migrations and the schema-version table.

Policy: a released step is never edited; a change is a new step appended to `MIGRATIONS`.
Opening a file applies, in order and each in its own transaction, every step it lacks, so a
file written by any older plantwin opens with the current code. A file newer than the code
is refused (it may hold tables this code would misread).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from twin.errors import HistoryError
from twin.history.codec import one as _one


@dataclass(frozen=True)
class Migration:
    """One forward step: its number, what it does, and its SQL (statements separated by ';')."""

    version: int
    description: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL: tests pin it so that a released step is never edited."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


_V1 = """
CREATE TABLE plants (
    hash        VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    epoch       TIMESTAMPTZ NOT NULL,
    epoch_iso   VARCHAR NOT NULL,
    body        VARCHAR NOT NULL,
    stored_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE order_books (
    hash        VARCHAR PRIMARY KEY,
    n_orders    INTEGER NOT NULL,
    stored_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE order_book_rows (
    book        VARCHAR NOT NULL,
    order_id    VARCHAR NOT NULL,
    product     VARCHAR NOT NULL,
    quantity    INTEGER NOT NULL,
    release     DOUBLE NOT NULL,
    due         DOUBLE,
    weight      DOUBLE NOT NULL
);
CREATE TABLE runs (
    id          VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    started_by  VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    plant_hash  VARCHAR,
    plant_name  VARCHAR,
    orders_hash VARCHAR,
    parent      VARCHAR,
    params      VARCHAR NOT NULL,
    kpis        VARCHAR NOT NULL
);
CREATE TABLE schedules (
    run_id       VARCHAR PRIMARY KEY,
    content_hash VARCHAR NOT NULL,
    plant_hash   VARCHAR NOT NULL,
    created_by   VARCHAR NOT NULL,
    meta         VARCHAR NOT NULL,
    n_operations INTEGER NOT NULL
);
CREATE TABLE schedule_operations (
    run_id VARCHAR NOT NULL, order_id VARCHAR NOT NULL, op_index INTEGER NOT NULL,
    operation VARCHAR NOT NULL, station VARCHAR NOT NULL, machine INTEGER NOT NULL,
    start DOUBLE NOT NULL, "end" DOUBLE NOT NULL, setup DOUBLE NOT NULL, quantity INTEGER NOT NULL
);
CREATE TABLE sim_operations (
    run_id VARCHAR NOT NULL, replication INTEGER NOT NULL, order_id VARCHAR NOT NULL,
    op_index INTEGER NOT NULL, operation VARCHAR NOT NULL, station VARCHAR NOT NULL,
    machine INTEGER NOT NULL, start DOUBLE NOT NULL, "end" DOUBLE NOT NULL, setup DOUBLE NOT NULL,
    quantity INTEGER NOT NULL, good INTEGER NOT NULL, scrap INTEGER NOT NULL
);
CREATE TABLE sim_orders (
    run_id VARCHAR NOT NULL, replication INTEGER NOT NULL, order_id VARCHAR NOT NULL,
    product VARCHAR NOT NULL, quantity INTEGER NOT NULL, release DOUBLE, due DOUBLE,
    completion DOUBLE, lateness DOUBLE, tardiness DOUBLE, on_time BOOLEAN
);
CREATE TABLE sim_states (
    run_id VARCHAR NOT NULL, replication INTEGER NOT NULL, station VARCHAR NOT NULL,
    machine INTEGER NOT NULL, state VARCHAR NOT NULL, start DOUBLE NOT NULL, "end" DOUBLE NOT NULL
);
CREATE TABLE run_kpis (
    run_id VARCHAR NOT NULL, name VARCHAR NOT NULL,
    mean DOUBLE, low DOUBLE, high DOUBLE, n INTEGER NOT NULL
);
CREATE TABLE verdicts (
    run_id VARCHAR PRIMARY KEY, schedule_hash VARCHAR NOT NULL, accepted BOOLEAN NOT NULL,
    reasons VARCHAR NOT NULL, replications INTEGER NOT NULL, seed BIGINT NOT NULL,
    policy VARCHAR NOT NULL, makespans VARCHAR NOT NULL, station_utilisation VARCHAR NOT NULL,
    overloaded VARCHAR NOT NULL, starved VARCHAR NOT NULL
);
CREATE TABLE verdict_orders (
    run_id VARCHAR NOT NULL, order_id VARCHAR NOT NULL, due DOUBLE, planned_completion DOUBLE,
    on_time_probability DOUBLE NOT NULL, ci_low DOUBLE NOT NULL, ci_high DOUBLE NOT NULL,
    mean_completion DOUBLE, mean_lateness DOUBLE, delay VARCHAR NOT NULL
)
"""

_V2 = """
CREATE TABLE actual_values (
    time DOUBLE NOT NULL, source_time TIMESTAMPTZ, server_time TIMESTAMPTZ,
    node_id VARCHAR NOT NULL, station VARCHAR, tag VARCHAR, value DOUBLE, value_text VARCHAR,
    status_code BIGINT NOT NULL, status VARCHAR
);
CREATE TABLE actual_events (
    time DOUBLE NOT NULL, station VARCHAR NOT NULL, machine INTEGER, kind VARCHAR NOT NULL,
    order_id VARCHAR, operation VARCHAR, quantity INTEGER NOT NULL, state VARCHAR
);
ALTER TABLE runs ADD COLUMN files VARCHAR DEFAULT '{}'
"""

_V3_JOB_RESPONSES = """
CREATE TABLE job_responses (
    time DOUBLE NOT NULL, job_id VARCHAR NOT NULL, state VARCHAR NOT NULL, order_id VARCHAR NOT NULL,
    op_index INTEGER NOT NULL, operation VARCHAR, station VARCHAR, machine INTEGER, waiting_at VARCHAR,
    planned INTEGER NOT NULL, good INTEGER NOT NULL, scrapped INTEGER NOT NULL,
    start_time TIMESTAMPTZ, end_time TIMESTAMPTZ, consumed VARCHAR NOT NULL
)
"""

_V4_TRANSFER_BATCH = """
ALTER TABLE schedule_operations ADD COLUMN transfer_batch INTEGER
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, plants, order books, schedules, simulation results, verdicts", _V1),
    Migration(2, "actuals from the floor (tag values, derived events); files attached to runs", _V2),
    Migration(3, "job responses from the floor (OPC 10031-4), one row per change", _V3_JOB_RESPONSES),
    Migration(
        4, "planned transfer batches per scheduled operation (NULL: the routing's)", _V4_TRANSFER_BATCH
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

TABLES = (
    "schema_version",
    "plants",
    "order_books",
    "order_book_rows",
    "runs",
    "schedules",
    "schedule_operations",
    "sim_operations",
    "sim_orders",
    "sim_states",
    "run_kpis",
    "verdicts",
    "verdict_orders",
    "actual_values",
    "actual_events",
)
"""Every table of the current schema (a snapshot holds one Parquet file per table)."""
RUN_TABLES = (
    "schedule_operations",
    "sim_operations",
    "sim_orders",
    "sim_states",
    "run_kpis",
    "verdict_orders",
)
"""The detail tables keyed by run_id (row counts per run in `get_run`)."""

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, checksum VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)
"""


def file_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version a connected file is at (0 for a new, empty file)."""
    found = _one(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'")
    )
    if not found or found[0] == 0:
        return 0
    row = _one(con.execute("SELECT max(version) FROM schema_version"))
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection, path: str, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply every missing step up to `target`, each in its own transaction; return those applied.

    Raises:
        HistoryError: the file is newer than this code, or a step failed (rolled back).
    """
    have = file_version(con)
    if have > SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: history schema version {have} is newer than this plantwin understands "
            f"(up to {SCHEMA_VERSION}); upgrade plantwin to read it"
        )
    applied: list[int] = []
    for step in MIGRATIONS:
        if step.version <= have or step.version > target:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(_VERSION_TABLE)
            for statement in (s.strip() for s in step.sql.split(";")):
                if statement:
                    con.execute(statement)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?, current_timestamp)",
                [step.version, step.description, step.checksum],
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise HistoryError(f"{path}: migration to schema version {step.version} failed: {exc}") from exc
        applied.append(step.version)
    return applied
