"""Reading the history: the typed read API that everything outside `twin/history` uses.

Runs (`run`, `runs`, `list_runs`, `get_run`), what they hold (plant, order book, schedule,
verdict), the floor's log (`floor_as_recorded`, `actual_operations`, `process_series`, ...),
the analytical queries (`plan_vs_actual`, `oee_per_shift`, `on_time_per_day`, `compare_runs`)
and the exports. Every method returns a dataclass, a model or a DataFrame; the SQL stays in
this package (here, in `queries`, `floor_log` and `export`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from twin.errors import HistoryError
from twin.history import export, floor_log, queries, verdicts
from twin.history.codec import RUN_KINDS, loads, since_time
from twin.history.codec import one as _one
from twin.history.connection import HistoryConnection
from twin.history.floor_log import BookEntry
from twin.history.records import RunRecord
from twin.history.schema import RUN_TABLES
from twin.kpi import KPIS, KpiRegistry
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation
from twin.verdict import Verdict

_RUN_COLUMNS = (
    "id, kind, created_at, started_by, status, plant_name, plant_hash, orders_hash, parent, params, kpis"
)


class HistoryReader(HistoryConnection):
    """The reading half of the history API (see the module docstring)."""

    # ---- plants and order books ----
    def get_plant(self, plant_hash: str) -> Plant:
        """The plant stored under `plant_hash`, as a model ready to run again.

        Raises:
            HistoryError: no such plant.
        """
        if plant_hash in self._plants:
            return self._plants[plant_hash]
        with self._cursor() as cur:
            row = _one(cur.execute("SELECT body FROM plants WHERE hash = ?", [plant_hash]))
        if row is None:
            raise HistoryError(f"{self.path}: no plant with hash {plant_hash[:12]}")
        plant = Plant.model_validate_json(row[0])
        self._plants[plant_hash] = plant
        return plant

    def get_orders(self, run_id: str) -> list[Order]:
        """The order book a run used (empty if it recorded none)."""
        run_id = self.resolve_run(run_id)
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT r.order_id, r.product, r.quantity, r.release, r.due, r.weight "
                "FROM runs JOIN order_book_rows r ON r.book = runs.orders_hash WHERE runs.id = ?",
                [run_id],
            ).fetchall()
        return [
            Order(id=i, product=p, quantity=q, release=rel, due=math.inf if due is None else due, weight=w)
            for i, p, q, rel, due, w in rows
        ]

    def latest_plant(self) -> Plant | None:
        """The plant of the most recent run that named one (else the last stored), or None."""
        with self._cursor() as cur:
            row = _one(
                cur.execute(
                    "SELECT plant_hash FROM runs WHERE plant_hash IS NOT NULL "
                    "ORDER BY created_at DESC LIMIT 1"
                )
            ) or _one(cur.execute("SELECT hash FROM plants ORDER BY stored_at DESC LIMIT 1"))
        return self.get_plant(row[0]) if row else None

    # ---- runs ----
    def resolve_run(self, ref: str) -> str:
        """The full id of a run from its id or a unique prefix of it.

        Raises:
            HistoryError: no run matches, or several do.
        """
        with self._cursor() as cur:
            if _one(cur.execute("SELECT 1 FROM runs WHERE id = ?", [ref])):
                return ref
            hits = [r[0] for r in cur.execute(
                "SELECT id FROM runs WHERE starts_with(id, ?) ORDER BY id LIMIT 6", [ref]
            ).fetchall()]  # fmt: skip
        if not hits:
            raise HistoryError(f"{self.path}: no run {ref!r} (see 'plantwin history list')")
        if len(hits) > 1:
            raise HistoryError(f"run {ref!r} is ambiguous: {', '.join(hits[:5])}")
        return hits[0]

    def list_runs(
        self,
        kind: str | None = None,
        since: datetime | str | timedelta | None = None,
        limit: int = 100,
        *,
        plant: str | None = None,
        status: str | None = None,
        parent: str | None = None,
        started_by: str | None = None,
    ) -> pd.DataFrame:
        """Runs, newest first, filtered by kind, age ('2h', '7d' or a datetime), plant name or
        hash prefix, status, parent run, and who started them (substring)."""
        where, args = [], []
        if kind is not None:
            if kind not in RUN_KINDS:
                raise HistoryError(f"run kind {kind!r} is not one of {', '.join(RUN_KINDS)}")
            where.append("kind = ?")
            args.append(kind)
        moment = since_time(since, datetime.now(UTC))
        if moment is not None:
            where.append("created_at >= ?")
            args.append(moment)
        if plant is not None:
            where.append("(plant_name = ? OR starts_with(plant_hash, ?))")
            args += [plant, plant]
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if parent is not None:
            where.append("parent = ?")
            args.append(self.resolve_run(parent))
        if started_by is not None:
            where.append("contains(started_by, ?)")
            args.append(started_by)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._cursor() as cur:
            return cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs {clause} ORDER BY created_at DESC, id DESC LIMIT ?",
                [*args, int(limit)],
            ).df()

    def run(self, ref: str) -> RunRecord:
        """One run (by id or a unique prefix of it), params and KPIs decoded.

        Raises:
            HistoryError: no run matches, or several do.
        """
        run_id = self.resolve_run(ref)
        with self._cursor() as cur:
            row = _one(cur.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", [run_id]))
        assert row is not None  # resolve_run found it
        return _record(row)

    def runs(
        self,
        kind: str | None = None,
        since: datetime | str | timedelta | None = None,
        limit: int = 100,
        *,
        plant: str | None = None,
        status: str | None = None,
        parent: str | None = None,
        started_by: str | None = None,
    ) -> list[RunRecord]:
        """`list_runs` as typed records (newest first, same filters)."""
        df = self.list_runs(
            kind, since, limit, plant=plant, status=status, parent=parent, started_by=started_by
        )
        return [_record(tuple(r)) for r in df.itertuples(index=False)]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Everything known about one run: its row (params, KPIs decoded), KPI estimates, what
        detail it holds (row counts per table), its children and its verdict summary."""
        run_id = self.resolve_run(run_id)
        with self._cursor() as cur:
            cur.execute("SELECT * FROM runs WHERE id = ?", [run_id])
            names = [d[0] for d in cur.description]
            run = dict(zip(names, _one(cur), strict=True))
            for key in ("params", "kpis", "files"):
                run[key] = loads(run.get(key))
            run["estimates"] = {
                name: {"mean": m, "low": lo, "high": hi, "n": n}
                for name, m, lo, hi, n in cur.execute(
                    "SELECT name, mean, low, high, n FROM run_kpis WHERE run_id = ? ORDER BY name", [run_id]
                ).fetchall()
            }
            counts = " UNION ALL ".join(
                f"SELECT '{t}', count(*) FROM {t} WHERE run_id = $1" for t in RUN_TABLES
            )
            run["rows"] = {t: n for t, n in cur.execute(counts, [run_id]).fetchall() if n}
            run["children"] = [
                r[0]
                for r in cur.execute(
                    "SELECT id FROM runs WHERE parent = ? ORDER BY created_at", [run_id]
                ).fetchall()
            ]
            v = _one(
                cur.execute(
                    "SELECT schedule_hash, accepted, reasons, replications, seed "
                    "FROM verdicts WHERE run_id = ?",
                    [run_id],
                )
            )
        if v is not None:
            run["verdict"] = {
                "schedule_hash": v[0],
                "accepted": v[1],
                "reasons": loads(v[2]),
                "replications": v[3],
                "seed": v[4],
            }
        return run

    # ---- details of a run ----
    def get_schedule(self, run_id: str) -> Schedule:
        """The plan recorded with a run, equal to the one stored (same content hash).

        Raises:
            HistoryError: the run has no schedule.
        """
        run_id = self.resolve_run(run_id)
        with self._cursor() as cur:
            head = _one(
                cur.execute("SELECT plant_hash, created_by, meta FROM schedules WHERE run_id = ?", [run_id])
            )
            if head is None:
                raise HistoryError(f"run {run_id} has no schedule")
            rows = cur.execute(
                'SELECT order_id, op_index, operation, station, machine, start, "end", setup, quantity, '
                "transfer_batch FROM schedule_operations WHERE run_id = ?",
                [run_id],
            ).fetchall()
        ops = tuple(ScheduledOperation(*r) for r in rows)
        return Schedule(operations=ops, plant_hash=head[0], created_by=head[1], meta=loads(head[2]))

    def get_verdict_orders(self, run_id: str) -> pd.DataFrame:
        """Per-order on-time probabilities of a verdict run."""
        run_id = self.resolve_run(run_id)
        return self.sql(
            "SELECT * EXCLUDE (run_id) FROM verdict_orders WHERE run_id = ? ORDER BY order_id", [run_id]
        )

    def get_verdict(self, run_id: str) -> Verdict:
        """The verdict recorded with a run, as the `Verdict` that was stored (decoded by
        `twin.history.verdicts`, the one codec of verdict rows).

        Raises:
            HistoryError: the run has no verdict.
        """
        return verdicts.get_verdict(self, run_id).verdict

    def latest_actual_time(self) -> float | None:
        """Plant time of the last actual event, or None when the floor recorded none."""
        with self._cursor() as cur:
            return floor_log.latest_time(cur)

    def floor_as_recorded(self) -> LiveState | None:
        """The floor as the history last saw it (stale: nothing is syncing), or None when no
        event is recorded. See twin.history.floor_log.floor_as_recorded."""
        with self._cursor() as cur:
            return floor_log.floor_as_recorded(cur)

    def actual_operations(self, start: float, end: float) -> pd.DataFrame:
        """Each (order, operation, station, machine) as it ran, first to last event, overlapping
        [start, end): order_id, op_index (-1), operation, station, machine, start, end, product."""
        with self._cursor() as cur:
            return floor_log.operations_between(cur, start, end)

    def process_series(
        self, station: str, tag: str, start: float | None = None, end: float | None = None, limit: int = 5000
    ) -> pd.DataFrame:
        """The last `limit` good numeric values of a station's tag in [start, end), oldest first
        (columns time, value)."""
        with self._cursor() as cur:
            return floor_log.process_series(cur, station, tag, start, end, limit)

    def latest_book_entries(self) -> dict[str, BookEntry]:
        """Order id -> product, quantity and due date from the latest stored book holding it."""
        with self._cursor() as cur:
            return floor_log.latest_book_entries(cur)

    def order_segments(self, since: float, until: float | None = None) -> pd.DataFrame:
        """Per order and operation with events in [since, until): produced, scrapped, first, last."""
        with self._cursor() as cur:
            return floor_log.order_segments(cur, since, until)

    def produced_events(self, since: float, until: float | None = None) -> pd.DataFrame:
        """The 'produced' events of orders in [since, until): order_id, operation, time, quantity."""
        with self._cursor() as cur:
            return floor_log.produced_events(cur, since, until)

    # ---- queries (SQL in twin.history.queries) ----
    def plan_vs_actual(
        self,
        plan_run: str | None,
        sim_run: str | None,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
        by: str = "station",
        bucket: float | str = 3600.0,
        *,
        plant: Plant | None = None,
    ) -> pd.DataFrame:
        """Output per station (or product) and bucket: planned, simulated median/P10/P90, actual,
        each also cumulative over the window. See twin.history.queries.plan_vs_actual."""
        with self._cursor() as cur:
            return queries.plan_vs_actual(self, cur, plan_run, sim_run, start, end, by, bucket, plant)

    def oee_per_shift(
        self,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
        *,
        plant: Plant | None = None,
    ) -> pd.DataFrame:
        """ISO 22400 time elements, quantities and OEE per station and shift, from actual events."""
        with self._cursor() as cur:
            return queries.oee_per_shift(self, cur, start, end, plant)

    def actual_kpis(
        self,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
        *,
        by: str = "station",
        plant: Plant | None = None,
        kpis: KpiRegistry | None = None,
    ) -> pd.DataFrame:
        """Actual-side ISO 22400 time elements, quantities and KPIs per station (or per station
        and shift, `by='shift'`) from the floor's events, with every element-based KPI of the
        registry `kpis` (default twin.kpi.KPIS); see twin.history.kpis.

        Raises:
            HistoryError: no plant given or recorded, or a bad `by`.
        """
        from twin.history.kpis import actual_kpis

        plant = plant or self.latest_plant()
        if plant is None:
            raise HistoryError("actual KPIs need a plant (its machines and unit times); none is recorded")
        with self._cursor() as cur:
            return actual_kpis(cur, plant, start, end, by=by, kpis=kpis or KPIS)

    def on_time_per_day(
        self,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
        *,
        run: str | None = None,
        plant: Plant | None = None,
    ) -> pd.DataFrame:
        """Orders finished per local day and the share on time (actuals, or a simulation run)."""
        with self._cursor() as cur:
            return queries.on_time_per_day(self, cur, start, end, run, plant)

    def compare_runs(self, a: str, b: str) -> pd.DataFrame:
        """KPIs of two runs side by side: a, b, difference (b - a), relative, and CIs if known."""
        with self._cursor() as cur:
            return queries.compare_runs(self, cur, self.resolve_run(a), self.resolve_run(b))

    # ---- export and snapshots ----
    def export_run(self, run_id: str, path: str | Path) -> list[Path]:
        """Write a run to Parquet or CSV (by suffix): its main table to `path`, each other table
        it holds beside it as '<stem>.<table><suffix>'. Returns the files written."""
        with self._cursor() as cur:
            return export.export_run(self, cur, self.resolve_run(run_id), Path(path))

    def export_actuals(
        self, start: float | datetime | None, end: float | datetime | None, path: str | Path
    ) -> list[Path]:
        """Write actual events in [start, end) to `path` and tag values to '<stem>.values<suffix>'."""
        with self._cursor() as cur:
            return export.export_actuals(self, cur, start, end, Path(path))

    def publish_snapshot(self, directory: str | Path | None = None, *, keep: int = 3) -> Path:
        """Write every table to Parquet in a new folder under `directory` (default '<file>.snapshot')
        and point its CURRENT file at it atomically; other processes open it with open_snapshot."""
        target = Path(directory) if directory is not None else Path(self.path + ".snapshot")
        with self._cursor() as cur:
            return export.publish_snapshot(cur, target, keep)


def _record(row: tuple[Any, ...]) -> RunRecord:
    """A RunRecord from a row in _RUN_COLUMNS order."""
    run_id, kind, created, by, status, plant_name, plant_hash, orders_hash, parent, params, kpis = row
    if isinstance(created, pd.Timestamp):
        created = created.to_pydatetime()

    def text(v: Any) -> str | None:
        return v if isinstance(v, str) else None

    return RunRecord(
        id=str(run_id),
        kind=str(kind),
        created_at=created,
        started_by=str(by),
        status=str(status),
        plant_name=text(plant_name),
        plant_hash=text(plant_hash),
        orders_hash=text(orders_hash),
        parent=text(parent),
        params=loads(params) or {},
        kpis=loads(kpis) or {},
    )
