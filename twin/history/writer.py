"""Writing the history: plants and order books (content addressed), runs, their details
(schedules, simulation results, KPI estimates, verdicts) and the actuals from the floor.

Writes are bulk (Arrow) inserts inside one transaction per call; wrap several calls in
`transaction()` to make them one unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from twin.errors import HistoryError
from twin.history import frames
from twin.history.codec import RUN_KINDS, dumps, loads, new_run_id, orders_frame, orders_hash
from twin.history.codec import one as _one
from twin.history.reader import HistoryReader
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.stats import Estimate
from twin.verdict import Verdict


class HistoryWriter(HistoryReader):
    """The writing half of the history API (the reads it needs, such as resolving a run id
    prefix, come from `HistoryReader`)."""

    # ---- plants and order books (content addressed) ----
    def store_plant(self, plant: Plant) -> str:
        """Keep the plant (once per content hash) and return its hash."""
        digest = plant.content_hash()
        with self._cursor(write=True) as cur:
            found = _one(cur.execute("SELECT 1 FROM plants WHERE hash = ?", [digest]))
            if not found:
                cur.execute(
                    "INSERT INTO plants VALUES (?, ?, ?, ?, ?, current_timestamp)",
                    [
                        digest,
                        plant.name,
                        plant.epoch,
                        plant.epoch.isoformat(),
                        dumps(plant.model_dump(mode="json", by_alias=True)),
                    ],
                )
        self._plants[digest] = plant
        return digest

    def store_orders(self, orders: Sequence[Order]) -> str:
        """Keep the order book (once per content hash) and return its hash."""
        digest = orders_hash(orders)
        with self._cursor(write=True) as cur:
            if not _one(cur.execute("SELECT 1 FROM order_books WHERE hash = ?", [digest])):
                cur.execute("INSERT INTO order_books VALUES (?, ?, current_timestamp)", [digest, len(orders)])
                rows = orders_frame(orders)
                rows.insert(0, "book", digest)
                _insert(cur, "order_book_rows", pa.Table.from_pandas(rows, preserve_index=False))
        return digest

    # ---- runs ----
    def record_run(
        self,
        kind: str,
        *,
        started_by: str,
        plant: Plant | None = None,
        orders: Sequence[Order] | None = None,
        params: dict[str, Any] | None = None,
        kpis: dict[str, Any] | None = None,
        parent: str | None = None,
        status: str = "ok",
        extra_files: dict[str, str] | None = None,
    ) -> str:
        """Record one run and return its id; the plant and orders are kept content-addressed.

        Raises:
            HistoryError: unknown kind, unknown parent run, or a read-only store.
        """
        if kind not in RUN_KINDS:
            raise HistoryError(f"run kind {kind!r} is not one of {', '.join(RUN_KINDS)}")
        if not status:
            raise HistoryError("run status must not be empty")
        now = datetime.now(UTC)
        run_id = new_run_id(kind, now)
        with self.transaction(), self._cursor(write=True) as cur:
            if parent is not None:
                parent = self.resolve_run(parent)
            plant_hash = self.store_plant(plant) if plant is not None else None
            book = self.store_orders(orders) if orders is not None else None
            cur.execute(
                "INSERT INTO runs (id, kind, created_at, started_by, status, plant_hash, plant_name, "
                "orders_hash, parent, params, kpis, files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    kind,
                    now,
                    started_by,
                    status,
                    plant_hash,
                    plant.name if plant is not None else None,
                    book,
                    parent,
                    dumps(params or {}),
                    dumps(kpis or {}),
                    dumps(extra_files or {}),
                ],
            )
        return run_id

    def set_status(self, run_id: str, status: str, *, kpis: dict[str, Any] | None = None) -> None:
        """Change a run's status (and merge KPIs known only at its end)."""
        run_id = self.resolve_run(run_id)
        with self._cursor(write=True) as cur:
            if kpis:
                old = loads(_one(cur.execute("SELECT kpis FROM runs WHERE id = ?", [run_id]))[0])
                cur.execute(
                    "UPDATE runs SET status = ?, kpis = ? WHERE id = ?",
                    [status, dumps({**old, **kpis}), run_id],
                )
            else:
                cur.execute("UPDATE runs SET status = ? WHERE id = ?", [status, run_id])

    # ---- details of a run ----
    def add_schedule(self, run_id: str, schedule: Schedule) -> None:
        """Keep a plan: one row per scheduled operation, plus its content hash and meta."""
        run_id = self.resolve_run(run_id)
        ops = schedule.operations
        table = pa.table(
            {
                "order_id": pa.array([o.order_id for o in ops], pa.string()),
                "op_index": pa.array([o.op_index for o in ops], pa.int32()),
                "operation": pa.array([o.operation for o in ops], pa.string()),
                "station": pa.array([o.station for o in ops], pa.string()),
                "machine": pa.array([o.machine for o in ops], pa.int32()),
                "start": pa.array([o.start for o in ops], pa.float64()),
                "end": pa.array([o.end for o in ops], pa.float64()),
                "setup": pa.array([o.setup for o in ops], pa.float64()),
                "quantity": pa.array([o.quantity for o in ops], pa.int32()),
                "transfer_batch": pa.array([o.transfer_batch for o in ops], pa.int32()),
            }
        )
        with self._cursor(write=True) as cur:
            cur.execute(
                "INSERT INTO schedules VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, schedule.content_hash(), schedule.plant_hash, schedule.created_by,
                 dumps(schedule.meta), len(ops)],
            )  # fmt: skip
            _insert(cur, "schedule_operations", table, run_id)

    def add_simulation(
        self,
        run_id: str,
        *,
        operations: pd.DataFrame,
        orders: pd.DataFrame,
        states: pd.DataFrame,
        kpis: dict[str, Estimate | float] | None = None,
    ) -> None:
        """Keep a simulation's results: per replication operations, orders and state intervals
        (plant seconds), and aggregated KPIs with their confidence intervals."""
        run_id = self.resolve_run(run_id)
        ops = frames.to_arrow(operations, frames.SIM_OPERATIONS, "simulation operations")
        ords = frames.to_arrow(orders, frames.SIM_ORDERS, "simulation orders")
        sts = frames.to_arrow(states, frames.SIM_STATES, "simulation states")
        with self._cursor(write=True) as cur:
            _insert(cur, "sim_operations", ops, run_id)
            _insert(cur, "sim_orders", ords, run_id)
            _insert(cur, "sim_states", sts, run_id)
            self._add_estimates(cur, run_id, kpis or {})

    def add_kpis(self, run_id: str, kpis: dict[str, Estimate | float]) -> None:
        """Keep aggregated KPIs (Estimates with CIs, or plain numbers) for any run."""
        run_id = self.resolve_run(run_id)
        with self._cursor(write=True) as cur:
            self._add_estimates(cur, run_id, kpis)

    @staticmethod
    def _add_estimates(
        cur: duckdb.DuckDBPyConnection, run_id: str, kpis: dict[str, Estimate | float]
    ) -> None:
        rows = []
        for name, est in kpis.items():
            if isinstance(est, Estimate):
                rows.append((run_id, name, est.mean, est.low, est.high, est.n))
            else:
                x = float(est)
                rows.append((run_id, name, x, x, x, 1))
        if rows:
            frame = pd.DataFrame(rows, columns=["run_id", "name", "mean", "low", "high", "n"])
            _insert(cur, "run_kpis", pa.Table.from_pandas(frame, preserve_index=False))

    def add_verdict(self, run_id: str, verdict: Verdict) -> None:
        """Keep the simulator's verdict on a schedule: accept/refuse, reasons, per-order odds."""
        run_id = self.resolve_run(run_id)
        orders = pd.DataFrame(
            {
                "order_id": [o.order_id for o in verdict.orders],
                "due": [o.due if math.isfinite(o.due) else None for o in verdict.orders],
                "planned_completion": [o.planned_completion for o in verdict.orders],
                "on_time_probability": [o.on_time_probability for o in verdict.orders],
                "ci_low": [o.ci_low for o in verdict.orders],
                "ci_high": [o.ci_high for o in verdict.orders],
                "mean_completion": [o.mean_completion for o in verdict.orders],
                "mean_lateness": [o.mean_lateness for o in verdict.orders],
                "delay": [dumps(o.delay) for o in verdict.orders],
            }
        )
        table = pa.Table.from_pandas(orders, preserve_index=False) if len(orders) else None
        with self._cursor(write=True) as cur:
            cur.execute(
                "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    verdict.schedule_hash,
                    verdict.accepted,
                    dumps(list(verdict.reasons)),
                    verdict.replications,
                    verdict.seed,
                    dumps(verdict.policy),
                    dumps(list(verdict.makespans)),
                    dumps(verdict.station_utilisation),
                    dumps(list(verdict.overloaded)),
                    dumps(list(verdict.starved)),
                ],
            )
            if table is not None:
                _insert(cur, "verdict_orders", table, run_id)

    # ---- actuals from the floor ----
    def add_actual_values(self, frame: pd.DataFrame | pa.Table) -> int:
        """Append raw tag values in bulk; return the number of rows.

        Columns: time (plant s), source_time, server_time (aware or None), node_id, station, tag,
        value (NaN when not numeric), value_text, status_code (OPC UA, int), status.
        """
        table = frames.to_arrow(frame, frames.ACTUAL_VALUES, "actual values")
        if table.column("node_id").null_count:
            raise HistoryError("actual values: column node_id has missing values")
        with self._cursor(write=True, atomic=False) as cur:
            _insert(cur, "actual_values", table)
        return table.num_rows

    def add_actual_events(self, frame: pd.DataFrame | pa.Table) -> int:
        """Append derived floor events in bulk; return the number of rows.

        Columns: time (plant s), station, machine, kind (produced, scrapped, state, order_started,
        order_finished), order_id, operation, quantity, state (for kind 'state').
        """
        table = frames.to_arrow(frame, frames.ACTUAL_EVENTS, "actual events")
        frames.check_events(table)
        with self._cursor(write=True, atomic=False) as cur:
            _insert(cur, "actual_events", table)
        return table.num_rows


def _insert(cur: duckdb.DuckDBPyConnection, target: str, batch: pa.Table, run_id: str | None = None) -> None:
    """Bulk insert an Arrow table (columns in the target's order after run_id) in one statement.

    DuckDB finds `_pw_batch` among this frame's locals (a replacement scan): measured 1.6x
    faster than register/unregister for 1000-row batches.
    """
    _pw_batch = batch  # read by DuckDB's replacement scan
    if run_id is None:
        cur.execute(f"INSERT INTO {target} SELECT * FROM _pw_batch")
    else:
        cur.execute(f"INSERT INTO {target} SELECT ?, * FROM _pw_batch", [run_id])
