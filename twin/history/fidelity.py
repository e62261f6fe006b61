"""Reads for the accuracy score (the SQL of `plantwin fidelity` and the dashboard's fidelity page).

A prediction is a simulation run with its replications (the demo records one under each
checked plan, `plantwin simulate` one per call); a score is a run of kind 'fidelity' whose
parent is the simulation it scored, with its numbers in `run_kpis`.
"""

from __future__ import annotations

import math
from typing import Protocol

import pandas as pd


class _Reads(Protocol):
    def sql(self, query: str, params: list | None = None) -> pd.DataFrame: ...


def predictions(store: _Reads, since: object | None = None) -> pd.DataFrame:
    """id, created_at, parent, parent_kind, params, plant_hash of simulation runs that kept
    replications, oldest first (`since`: created at or after this instant)."""
    return store.sql(
        """
        SELECT r.id, r.created_at, r.parent, p.kind AS parent_kind, r.params, r.plant_hash
        FROM runs r LEFT JOIN runs p ON p.id = r.parent
        WHERE r.kind = 'simulation' AND (?::TIMESTAMPTZ IS NULL OR r.created_at >= ?::TIMESTAMPTZ)
          AND EXISTS (SELECT 1 FROM sim_operations o WHERE o.run_id = r.id)
        ORDER BY r.created_at, r.id
        """,
        [since, since],
    )


def latest_prediction_of(store: _Reads, run_id: str) -> str | None:
    """The run itself if it is a simulation with replications, else its newest such child."""
    df = store.sql(
        """
        SELECT r.id FROM runs r
        WHERE (r.id = ? OR r.parent = ?) AND r.kind = 'simulation'
          AND EXISTS (SELECT 1 FROM sim_operations o WHERE o.run_id = r.id)
        ORDER BY (r.id = ?) DESC, r.created_at DESC LIMIT 1
        """,
        [run_id, run_id, run_id],
    )
    return None if df.empty else str(df["id"].iloc[0])


def simulated_operations(store: _Reads, run_id: str) -> pd.DataFrame:
    """replication, order_id, operation, station, product, start, end, setup, good."""
    return store.sql(
        """
        SELECT o.replication, o.order_id, o.operation, o.station, s.product,
               o.start, o."end", o.setup, o.good
        FROM sim_operations o
        JOIN sim_orders s ON s.run_id = o.run_id AND s.replication = o.replication AND s.order_id = o.order_id
        WHERE o.run_id = ?
        """,
        [run_id],
    )


def simulated_orders(store: _Reads, run_id: str) -> pd.DataFrame:
    """replication, order_id, product, quantity, due, completion, on_time."""
    return store.sql(
        "SELECT replication, order_id, product, quantity, due, completion, on_time FROM sim_orders "
        "WHERE run_id = ?",
        [run_id],
    )


def actual_good_units(store: _Reads, start: float, end: float) -> pd.DataFrame:
    """time, station, order_id, operation, good: good units counted on the floor in [start, end),
    attributed to the order and operation the station's tags named strictly before."""
    return store.sql(
        """
        WITH ev AS (
            SELECT station, time, quantity FROM actual_events
            WHERE kind = 'produced' AND time >= ? AND time < ?
        ),
        ord AS (SELECT station, time, nullif(value_text, '') AS order_id FROM actual_values
                WHERE tag = 'current_order' AND status = 'good'),
        opn AS (SELECT station, time, nullif(value_text, '') AS operation FROM actual_values
                WHERE tag = 'current_operation' AND status = 'good')
        SELECT e.time, e.station, o.order_id, p.operation, e.quantity AS good
        FROM ev e
        ASOF LEFT JOIN ord o ON e.station = o.station AND e.time > o.time
        ASOF LEFT JOIN opn p ON e.station = p.station AND e.time > p.time
        ORDER BY e.time
        """,
        [start, end],
    )


def last_actual_time(store: _Reads) -> float:
    """Plant time of the newest actual event (nan when there is none)."""
    row = store.sql("SELECT max(time) AS t FROM actual_events").iloc[0]
    t = row["t"]
    return math.nan if t is None or pd.isna(t) else float(t)


def scored_predictions(store: _Reads) -> pd.DataFrame:
    """id, parent of every recorded fidelity score (to score each prediction once)."""
    return store.sql("SELECT id, parent FROM runs WHERE kind = 'fidelity' ORDER BY created_at")


def fidelity_history(store: _Reads) -> pd.DataFrame:
    """created_at, id, parent, kpis of every recorded score, oldest first (the score over time)."""
    return store.sql(
        "SELECT created_at, id, parent, params, kpis FROM runs WHERE kind = 'fidelity' ORDER BY created_at"
    )


def fidelity_details(store: _Reads, run_id: str) -> pd.DataFrame:
    """name, mean, n of one score's per station/product coverage ('coverage[station/product]')."""
    return store.sql(
        "SELECT name, mean, n FROM run_kpis WHERE run_id = ? AND starts_with(name, 'coverage[') "
        "ORDER BY name",
        [run_id],
    )
