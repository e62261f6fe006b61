"""Reads of the floor's recorded actuals for calibration (the SQL of `plantwin calibrate`).

Each function returns a DataFrame with the columns named in its docstring, for actuals with
plant time in [start, end). Attribution of a value to the order and operation being worked
uses the station's `current_order`/`current_operation` tags as they were strictly before the
value's time: the tag of the next operation, written at the instant the last unit of the
previous one ends, does not claim that unit.
"""

from __future__ import annotations

import math
from typing import Protocol

import pandas as pd

_TOL = 1e-3  # plant seconds: source timestamps carry microseconds, sums of floats drift a little


class _Reads(Protocol):
    def sql(self, query: str, params: list | None = None) -> pd.DataFrame: ...


def _bounds(start: float | None, end: float | None) -> list[float]:
    return [-math.inf if start is None else start, math.inf if end is None else end]


_TAGS = """
ord AS (SELECT station, time, nullif(value_text, '') AS order_id FROM actual_values
        WHERE tag = 'current_order' AND status = 'good'),
opn AS (SELECT station, time, nullif(value_text, '') AS operation FROM actual_values
        WHERE tag = 'current_operation' AND status = 'good')
"""


def floor_window(store: _Reads, start: float | None, end: float | None) -> tuple[float, float, int]:
    """(first, last, n) plant time and count of actual events in the window (nan, nan, 0 if none)."""
    row = store.sql(
        "SELECT min(time) AS t0, max(time) AS t1, count(*) AS n FROM actual_events "
        "WHERE time >= ? AND time < ?",
        _bounds(start, end),
    ).iloc[0]
    n = int(row["n"])
    return (float(row["t0"]), float(row["t1"]), n) if n else (math.nan, math.nan, 0)


def clean_cycles(store: _Reads, start: float | None, end: float | None) -> pd.DataFrame:
    """station, order_id, operation, cycle: cycle times during which the station stayed in
    Execute (a unit that spanned a break, a breakdown or a material wait is left out)."""
    return store.sql(
        f"""
        WITH st AS (
            SELECT station, time AS t0, state,
                   lead(time, 1, 'infinity'::DOUBLE) OVER (PARTITION BY station ORDER BY time) AS t1
            FROM actual_events WHERE kind = 'state'
        ),
        cyc AS (
            SELECT station, time, value AS cycle, time - value AS began FROM actual_values
            WHERE tag = 'cycle_time' AND status = 'good' AND value > 0 AND time >= ? AND time < ?
        ),
        {_TAGS}
        SELECT c.station, o.order_id, p.operation, c.cycle
        FROM cyc c
        ASOF JOIN st s ON c.station = s.station AND c.began + {_TOL} >= s.t0
        ASOF LEFT JOIN ord o ON c.station = o.station AND c.time > o.time
        ASOF LEFT JOIN opn p ON c.station = p.station AND c.time > p.time
        WHERE s.state = 'Execute' AND s.t1 >= c.time - {_TOL}
          AND o.order_id IS NOT NULL AND p.operation IS NOT NULL
        """,
        _bounds(start, end),
    )


def unit_counts(store: _Reads, start: float | None, end: float | None) -> pd.DataFrame:
    """order_id, operation, station, good, rejected: units finished per order operation."""
    return store.sql(
        f"""
        WITH ev AS (
            SELECT station, time, kind, quantity FROM actual_events
            WHERE kind IN ('produced', 'scrapped') AND time >= ? AND time < ?
        ),
        {_TAGS}
        SELECT o.order_id, p.operation, e.station,
               sum(CASE WHEN e.kind = 'produced' THEN e.quantity ELSE 0 END)::BIGINT AS good,
               sum(CASE WHEN e.kind = 'scrapped' THEN e.quantity ELSE 0 END)::BIGINT AS rejected
        FROM ev e
        ASOF LEFT JOIN ord o ON e.station = o.station AND e.time > o.time
        ASOF LEFT JOIN opn p ON e.station = p.station AND e.time > p.time
        WHERE o.order_id IS NOT NULL AND p.operation IS NOT NULL
        GROUP BY ALL ORDER BY ALL
        """,
        _bounds(start, end),
    )


def state_changes(store: _Reads, start: float | None, end: float | None) -> pd.DataFrame:
    """station, time, state: every recorded station state change, in time order per station."""
    return store.sql(
        "SELECT station, time, state FROM actual_events WHERE kind = 'state' AND time >= ? AND time < ? "
        "ORDER BY station, time",
        _bounds(start, end),
    )


def order_starts(store: _Reads, start: float | None, end: float | None) -> pd.DataFrame:
    """station, time, order_id: when the station's current order changed to an order."""
    return store.sql(
        "SELECT station, time, value_text AS order_id FROM actual_values "
        "WHERE tag = 'current_order' AND status = 'good' AND coalesce(value_text, '') <> '' "
        "AND time >= ? AND time < ? ORDER BY station, time",
        _bounds(start, end),
    )


def order_products(store: _Reads) -> dict[str, str]:
    """Order id -> product, from every order book and simulated order the history holds."""
    df = store.sql(
        "SELECT DISTINCT order_id, product FROM order_book_rows "
        "UNION SELECT DISTINCT order_id, product FROM sim_orders"
    )
    return dict(zip(df["order_id"], df["product"], strict=True))


def floor_runs(store: _Reads) -> list[str]:
    """Ids of the runs that recorded actuals (sync and demo sessions), oldest first."""
    df = store.sql("SELECT id FROM runs WHERE kind IN ('sync', 'demo') ORDER BY created_at")
    return list(df["id"])
