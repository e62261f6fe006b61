"""Hand-written data for the history tests: simulated replications and floor events."""

from __future__ import annotations

import pandas as pd

TINY = """
name: tiny
epoch: 2026-11-30T00:00:00+01:00
calendars:
  two-shift:
    shifts:
      - {name: early, days: mon-fri, start: "06:00", end: "14:00", breaks: [{start: "10:00", end: "10:30"}]}
      - {name: late, days: mon-fri, start: "14:00", end: "22:00"}
lines:
  - id: L
    calendar: two-shift
    stations:
      - {id: A, machines: 2}
      - {id: B}
products:
  - id: P
    routing:
      - {id: cut, stations: A, time: 60}
      - {id: assemble, stations: B, time: 120}
  - id: Q
    routing:
      - {id: cut, stations: A, time: 30}
      - {id: pack, stations: B, time: 40}
"""


def sim_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three replications of the tiny plan, written by hand (ends and good counts per op)."""
    rows = [
        # rep, order, op_index, operation, station, end, good, scrap
        (0, "O1", 0, "cut", "A", 250.0, 2, 0),
        (0, "O1", 1, "assemble", "B", 700.0, 2, 0),
        (0, "O2", 0, "cut", "A", 3650.0, 3, 0),
        (0, "O2", 1, "pack", "B", 4100.0, 3, 0),
        (1, "O1", 0, "cut", "A", 300.0, 1, 1),
        (1, "O1", 1, "assemble", "B", 800.0, 1, 0),
        (1, "O2", 0, "cut", "A", 3500.0, 3, 0),
        (1, "O2", 1, "pack", "B", 3900.0, 3, 0),
        (2, "O1", 0, "cut", "A", 3610.0, 2, 0),
        (2, "O1", 1, "assemble", "B", 3900.0, 2, 0),
        (2, "O2", 0, "cut", "A", 5000.0, 3, 0),
    ]
    ops = pd.DataFrame(
        {
            "replication": [r[0] for r in rows],
            "order_id": [r[1] for r in rows],
            "op_index": [r[2] for r in rows],
            "operation": [r[3] for r in rows],
            "station": [r[4] for r in rows],
            "machine": 0,
            "start": [r[5] - 100.0 for r in rows],
            "end": [r[5] for r in rows],
            "setup": 0.0,
            "quantity": [r[6] + r[7] for r in rows],
            "good": [r[6] for r in rows],
            "scrap": [r[7] for r in rows],
        }
    )
    orders = pd.DataFrame(
        {
            "replication": [0, 0, 1, 1, 2, 2],
            "order_id": ["O1", "O2"] * 3,
            "product": ["P", "Q"] * 3,
            "quantity": [2, 3] * 3,
            "release": 0.0,
            "due": [5000.0, 80000.0] * 3,
            "completion": [700.0, 4100.0, 800.0, 3900.0, 3900.0, None],
            "lateness": [-4300.0, -75900.0, -4200.0, -76100.0, -1100.0, None],
            "tardiness": [0.0, 0.0, 0.0, 0.0, 0.0, None],
            "on_time": [True, True, True, True, True, None],
        }
    )
    states = pd.DataFrame(
        {
            "replication": [0, 0],
            "station": ["A", "A"],
            "machine": [0, 0],
            "state": ["Execute", "Idle"],
            "start": [0.0, 250.0],
            "end": [250.0, 4000.0],
        }
    )
    return ops, orders, states


def events(rows: list[tuple]) -> pd.DataFrame:
    """Actual events from (time, station, kind, order_id, operation, quantity, state) tuples."""
    return pd.DataFrame(
        {
            "time": [float(r[0]) for r in rows],
            "station": [r[1] for r in rows],
            "machine": [0] * len(rows),
            "kind": [r[2] for r in rows],
            "order_id": [r[3] for r in rows],
            "operation": [r[4] for r in rows],
            "quantity": [r[5] for r in rows],
            "state": [r[6] for r in rows],
        }
    )
