"""Job responses in the history: one row each time the floor's response for a job order changed
(state, quantities, times, material consumed), and the latest response per job order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from twin.errors import HistoryError

COLUMNS = (
    "time", "job_id", "state", "order_id", "op_index", "operation", "station", "machine", "waiting_at",
    "planned", "good", "scrapped", "start_time", "end_time", "consumed",
)  # fmt: skip
_SCHEMA = pa.schema(
    [
        ("time", pa.float64()),
        ("job_id", pa.string()),
        ("state", pa.string()),
        ("order_id", pa.string()),
        ("op_index", pa.int32()),
        ("operation", pa.string()),
        ("station", pa.string()),
        ("machine", pa.int32()),
        ("waiting_at", pa.string()),
        ("planned", pa.int32()),
        ("good", pa.int32()),
        ("scrapped", pa.int32()),
        ("start_time", pa.timestamp("us", tz="UTC")),
        ("end_time", pa.timestamp("us", tz="UTC")),
        ("consumed", pa.string()),
    ]
)


def add_job_responses(store: Any, rows: Sequence[dict[str, Any]]) -> int:
    """Append job response rows (keys: `COLUMNS`; `consumed` a dict); return how many.

    Raises:
        HistoryError: a row misses a column or holds a value of the wrong type.
    """
    if not rows:
        return 0
    try:
        data = {c: [r[c] for r in rows] for c in COLUMNS}
        data["consumed"] = [json.dumps(c, sort_keys=True) for c in data["consumed"]]
        table = pa.table(data, schema=_SCHEMA)
    except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
        raise HistoryError(f"job responses: {exc}") from exc
    with store._cursor(write=True, atomic=False) as cur:
        _pw_jobs = table  # read by DuckDB's replacement scan
        cur.execute("INSERT INTO job_responses SELECT * FROM _pw_jobs")
    return table.num_rows


def latest_job_responses(store: Any, *, order_id: str | None = None) -> pd.DataFrame:
    """The latest row per job order (optionally of one order), by job id."""
    where = "WHERE order_id = ?" if order_id is not None else ""
    return store.sql(
        f"SELECT * FROM job_responses {where} QUALIFY row_number() OVER (PARTITION BY job_id "
        "ORDER BY time DESC, good + scrapped DESC) = 1 ORDER BY job_id",
        [order_id] if order_id is not None else [],
    )


def response_row(time: float, r: Any) -> dict[str, Any]:
    """A `sync.jobresponses.JobResponse` (duck-typed) at plant time `time` as a history row."""

    return {
        "time": float(time),
        "job_id": r.job_id,
        "state": r.state,
        "order_id": r.order_id,
        "op_index": int(r.op_index),
        "operation": r.operation,
        "station": r.station,
        "machine": r.machine,
        "waiting_at": r.waiting_at,
        "planned": int(r.planned),
        "good": int(r.good),
        "scrapped": int(r.scrapped),
        "start_time": r.start,
        "end_time": r.end,
        "consumed": dict(r.consumed),
    }
