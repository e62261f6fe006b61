"""Reads of the floor's log (actual events and tag values) and of the order books behind it,
for the dashboard, the demo and the exporters: the SQL stays here, callers get DataFrames
and dataclasses (through `HistoryReader`).

Every function takes a DuckDB cursor and aggregates in DuckDB; only the small result comes back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import pandas as pd

from twin.history.codec import one as _one
from twin.live import LiveState, OperationProgress, StationLive
from twin.states import MachineState

GOOD_STATUS = "(status_code >> 30) = 0"
"""OPC UA severity bits 00: a Good value (uncertain and bad values are not read as data)."""
_FAR = 1e300  # an open window bound DuckDB compares with, in plant seconds


@dataclass(frozen=True)
class BookEntry:
    """An order as the most recently stored order book holding it says (due None: no due date)."""

    order_id: str
    product: str
    quantity: int
    due: float | None


def _bound(value: float | None, default: float) -> float:
    return default if value is None or not math.isfinite(value) else float(value)


def latest_time(cur: duckdb.DuckDBPyConnection) -> float | None:
    """The plant time of the last actual event, or None when the floor recorded none."""
    row = _one(cur.execute("SELECT max(time) FROM actual_events"))
    return None if row is None or row[0] is None else float(row[0])


def under_way(cur: duckdb.DuckDBPyConnection) -> tuple[OperationProgress, ...]:
    """The latest started operation of every order started and not finished (the WIP), oldest
    first; the op_index is unknown from events (-1)."""
    rows = cur.execute(
        """
        WITH started AS (
            SELECT order_id, arg_max(operation, time) AS operation, arg_max(station, time) AS station,
                   arg_max(coalesce(machine, 0), time) AS machine, max(time) AS t
            FROM actual_events WHERE kind = 'order_started' AND order_id IS NOT NULL GROUP BY order_id
        ),
        finished AS (SELECT DISTINCT order_id FROM actual_events WHERE kind = 'order_finished')
        SELECT s.order_id, s.station, s.machine, s.t FROM started s ANTI JOIN finished f USING (order_id)
        ORDER BY s.t, s.order_id
        """
    ).fetchall()
    return tuple(OperationProgress(str(o), -1, str(st), int(m), float(t)) for o, st, m, t in rows)


def floor_as_recorded(cur: duckdb.DuckDBPyConnection) -> LiveState | None:
    """The floor as the history last saw it: each station's last recorded state (since its
    event), its good and reject counts summed from the events, when it was last heard of, and
    the orders under way. Marked stale (nothing is syncing); None when no event is recorded.

    A state name that is not a PackML `MachineState` reads as Idle.
    """
    rows = cur.execute(
        """
        WITH s AS (
            SELECT station, arg_max(state, time) AS state, max(time) AS since
            FROM actual_events WHERE kind = 'state' GROUP BY station
        ),
        c AS (
            SELECT station,
                   coalesce(sum(quantity) FILTER (WHERE kind = 'produced'), 0) AS good,
                   coalesce(sum(quantity) FILTER (WHERE kind = 'scrapped'), 0) AS reject,
                   max(time) AS heard
            FROM actual_events GROUP BY station
        )
        SELECT c.station, s.state, s.since, c.good, c.reject, c.heard
        FROM c LEFT JOIN s USING (station) ORDER BY c.station
        """
    ).fetchall()
    if not rows:
        return None
    stations = {}
    for station, state, since, good, reject, heard in rows:
        try:
            known = MachineState(state) if isinstance(state, str) else MachineState.IDLE
        except ValueError:
            known = MachineState.IDLE
        stations[station] = StationLive(
            station=station,
            state=known,
            since=float(heard if since is None else since),
            good_count=int(good),
            reject_count=int(reject),
            last_heard=float(heard),
        )
    last = max(float(r[5]) for r in rows)
    return LiveState(time=last, stations=stations, in_progress=under_way(cur), stale=True, last_good=last)


def operations_between(cur: duckdb.DuckDBPyConnection, start: float, end: float) -> pd.DataFrame:
    """Each (order, operation, station, machine) from its first to its last event (started,
    produced, scrapped, finished) overlapping [start, end): order_id, op_index (-1: unknown),
    operation, station, machine, start, end, product (from the latest order book, '' if none)."""
    return cur.execute(
        """
        WITH prod AS (
            SELECT order_id, arg_max(product, b.stored_at) AS product
            FROM order_book_rows r JOIN order_books b ON b.hash = r.book GROUP BY order_id
        ),
        ops AS (
            SELECT order_id, operation, station, coalesce(machine, 0) AS machine,
                   min(time) AS start, max(time) AS "end"
            FROM actual_events
            WHERE kind IN ('order_started', 'produced', 'scrapped', 'order_finished')
              AND order_id IS NOT NULL AND operation IS NOT NULL
            GROUP BY ALL
        )
        SELECT o.order_id, -1 AS op_index, o.operation, o.station, o.machine, o.start, o."end",
               coalesce(p.product, '') AS product
        FROM ops o LEFT JOIN prod p USING (order_id)
        WHERE o."end" >= ? AND o.start < ?
        ORDER BY o.start
        """,
        [start, end],
    ).df()


def process_series(
    cur: duckdb.DuckDBPyConnection,
    station: str,
    tag: str,
    start: float | None,
    end: float | None,
    limit: int,
) -> pd.DataFrame:
    """The last `limit` good, finite numeric values of one station's tag in [start, end), in
    time order: columns time, value."""
    df = cur.execute(
        f"""
        SELECT time, value FROM actual_values
        WHERE station = ? AND tag = ? AND value IS NOT NULL AND isfinite(value) AND {GOOD_STATUS}
          AND time >= ? AND time < ?
        ORDER BY time DESC LIMIT ?
        """,
        [station, tag, _bound(start, -_FAR), _bound(end, _FAR), int(limit)],
    ).df()
    return df.iloc[::-1].reset_index(drop=True)


def latest_book_entries(cur: duckdb.DuckDBPyConnection) -> dict[str, BookEntry]:
    """Order id -> what the most recently stored order book holding it says of it (the whole
    row of that book: `arg_max` would skip a missing due date and keep an older book's)."""
    rows = cur.execute(
        """
        SELECT r.order_id, r.product, r.quantity, r.due
        FROM order_book_rows r JOIN order_books b ON b.hash = r.book
        QUALIFY row_number() OVER (PARTITION BY r.order_id ORDER BY b.stored_at DESC, r.book) = 1
        """
    ).fetchall()
    return {
        str(o): BookEntry(str(o), str(p), int(q), None if d is None or math.isnan(d) else float(d))
        for o, p, q, d in rows
    }


def order_segments(cur: duckdb.DuckDBPyConnection, since: float, until: float | None) -> pd.DataFrame:
    """Per order and operation with events in [since, until): produced and scrapped units and
    the first and last event time (columns order_id, operation, produced, scrapped, first, last),
    by order, then first event. Events without an order or an operation are left out."""
    return cur.execute(
        """
        SELECT order_id, operation,
               coalesce(sum(quantity) FILTER (WHERE kind = 'produced'), 0) AS produced,
               coalesce(sum(quantity) FILTER (WHERE kind = 'scrapped'), 0) AS scrapped,
               min(time) AS first, max(time) AS last
        FROM actual_events
        WHERE order_id IS NOT NULL AND order_id <> '' AND operation IS NOT NULL AND operation <> ''
          AND time >= ? AND time < ?
        GROUP BY order_id, operation ORDER BY order_id, first
        """,
        [since, _bound(until, _FAR)],
    ).df()


def produced_events(cur: duckdb.DuckDBPyConnection, since: float, until: float | None) -> pd.DataFrame:
    """The 'produced' events of orders in [since, until), by order then time (columns order_id,
    operation, time, quantity)."""
    return cur.execute(
        """
        SELECT order_id, operation, time, quantity FROM actual_events
        WHERE kind = 'produced' AND order_id IS NOT NULL AND time >= ? AND time < ?
        ORDER BY order_id, time
        """,
        [since, _bound(until, _FAR)],
    ).df()
