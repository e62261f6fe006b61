"""Export of runs and actuals to Parquet or CSV, and the Parquet snapshots a service publishes.

Files are written by DuckDB's COPY straight from the tables (no round trip through pandas).
"""

from __future__ import annotations

import math
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from twin.errors import HistoryError
from twin.history.codec import one as _one
from twin.history.codec import plant_seconds
from twin.history.queries import RunSource
from twin.history.schema import TABLES

_FORMATS = {".parquet": "(FORMAT parquet)", ".pq": "(FORMAT parquet)", ".csv": "(FORMAT csv, HEADER true)"}
_MAIN_ORDER = (
    "schedule_operations",
    "sim_operations",
    "verdict_orders",
    "sim_orders",
    "sim_states",
    "run_kpis",
)
_SHORT = {
    "schedule_operations": "schedule",
    "sim_operations": "operations",
    "sim_orders": "orders",
    "sim_states": "states",
    "run_kpis": "kpis",
    "verdict_orders": "verdict",
}


def _format(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise HistoryError(f"{path}: export to .parquet or .csv (the suffix chooses the format)")
    return fmt


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy(cur: duckdb.DuckDBPyConnection, select: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        cur.execute(f"COPY ({select}) TO {_lit(str(path))} {_format(path)}")
    except duckdb.Error as exc:
        raise HistoryError(f"{path}: export failed: {exc}") from exc
    return path


def _timed(columns: list[str], epoch_unix: float | None) -> str:
    """Select list: the columns, plus '<col>_ts' timestamps for plant-seconds columns."""
    out = [f'"{c}"' for c in columns]
    if epoch_unix is not None:
        out += [
            f'to_timestamp({epoch_unix!r} + "{c}") AS "{c}_ts"'
            for c in columns
            if c in ("start", "end", "time")
        ]
    return ", ".join(out)


def export_run(store: RunSource, cur: duckdb.DuckDBPyConnection, run_id: str, path: Path) -> list[Path]:
    """The run's main table to `path`, its other tables and its run record beside it."""
    _format(path)
    row = _one(cur.execute("SELECT plant_hash FROM runs WHERE id = ?", [run_id]))
    epoch_unix = store.get_plant(row[0]).epoch.timestamp() if row and row[0] else None
    present = [
        t for t in _MAIN_ORDER if _one(cur.execute(f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]))[0]
    ]
    written: list[Path] = []
    for i, table in enumerate(present):
        cols = [c[0] for c in cur.execute(f"SELECT * FROM {table} LIMIT 0").description if c[0] != "run_id"]
        target = path if i == 0 else path.with_name(f"{path.stem}.{_SHORT[table]}{path.suffix}")
        order = "replication, " if "replication" in cols else ""
        order += "start, " if "start" in cols else ""
        select = (
            f"SELECT {_timed(cols, epoch_unix)} FROM {table} WHERE run_id = {_lit(run_id)} ORDER BY {order}1"
        )
        written.append(_copy(cur, select, target))
    run_target = path.with_name(f"{path.stem}.run{path.suffix}") if present else path
    written.append(_copy(cur, f"SELECT * FROM runs WHERE id = {_lit(run_id)}", run_target))
    return written


def export_actuals(
    store: RunSource,
    cur: duckdb.DuckDBPyConnection,
    start: float | datetime | None,
    end: float | datetime | None,
    path: Path,
) -> list[Path]:
    """Events in [start, end) to `path`, tag values in the same window to '<stem>.values<suffix>'."""
    _format(path)
    plant = store.latest_plant()
    epoch = plant.epoch if plant is not None else None
    s = plant_seconds(start, epoch, -math.inf)
    e = plant_seconds(end, epoch, math.inf)
    where = []
    if math.isfinite(s):
        where.append(f"time >= {s!r}")
    if math.isfinite(e):
        where.append(f"time < {e!r}")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    epoch_unix = epoch.timestamp() if epoch is not None else None
    written = []
    for table, target in (
        ("actual_events", path),
        ("actual_values", path.with_name(f"{path.stem}.values{path.suffix}")),
    ):
        cols = [c[0] for c in cur.execute(f"SELECT * FROM {table} LIMIT 0").description]
        written.append(
            _copy(cur, f"SELECT {_timed(cols, epoch_unix)} FROM {table} {clause} ORDER BY time", target)
        )
    return written


def publish_snapshot(cur: duckdb.DuckDBPyConnection, root: Path, keep: int) -> Path:
    """Every table as Parquet in a new folder under `root`, all from one transaction (a
    consistent view); then CURRENT is replaced atomically and older folders beyond `keep` go."""
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}"
    folder = root / stamp
    folder.mkdir(parents=True, exist_ok=False)
    cur.execute("BEGIN TRANSACTION")
    try:
        for table in TABLES:
            cur.execute(f"COPY {table} TO {_lit(str(folder / f'{table}.parquet'))} (FORMAT parquet)")
        cur.execute("COMMIT")
    except duckdb.Error as exc:
        cur.execute("ROLLBACK")
        shutil.rmtree(folder, ignore_errors=True)
        raise HistoryError(f"{root}: snapshot failed: {exc}") from exc
    pointer = root / f"CURRENT.{os.getpid()}.tmp"
    pointer.write_text(stamp + "\n")
    os.replace(pointer, root / "CURRENT")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    for old in folders[: max(0, len(folders) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return folder
