"""`plantwin history list|show|export|export-actuals|compare|kpis`: browse and export the history."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from plantwin import args
from plantwin.common import emit_json, out_console, report_errors, wiring
from plantwin.recording import DbOption, open_history_reader
from twin.errors import InputError, Issue
from twin.history import HistoryStore
from twin.history.kpis import ISO_ELEMENTS
from twin.kpi import KpiRegistry
from twin.timeutil import parse_time

history_app = typer.Typer(
    help="Browse the history of runs (plans, simulations, scenarios, verdicts, dispatches, sync, demo).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def register(app: typer.Typer) -> None:
    app.add_typer(history_app, name="history")


def _when(value: Any, short: bool = False) -> str:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S")
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append(
            {k: (v.isoformat() if isinstance(v, datetime | pd.Timestamp) else v) for k, v in row.items()}
        )
    return out


def _text(value: Any) -> str:
    """A table cell: '' for a missing value (None or NaN from pandas)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for k, v in value.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _cell(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.4g}"


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _kpi_text(kpis: dict[str, Any], limit: int = 3) -> str:
    items = [(k, v) for k, v in kpis.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return ", ".join(f"{k}={v:.4g}" for k, v in items[:limit])


@history_app.command("list")
@report_errors
def list_runs(
    kind: Annotated[str | None, typer.Option(help="Only this kind (plan, simulation, ...).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only runs since an ISO time or an age ('2h', '7d').")
    ] = None,
    plant: Annotated[str | None, typer.Option(help="Only runs of this plant (name or hash prefix).")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 50,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List recorded runs, newest first."""
    args.whole("--limit", limit, 1, 1_000_000)
    with open_history_reader(db) as store:
        runs = store.list_runs(kind, since, limit, plant=plant, status=status)
        where = store.path
    if json_out:
        for col in ("params", "kpis"):
            runs[col] = [json.loads(v) for v in runs[col]]
        emit_json({"db": where, "runs": _records(runs)})
        return
    if runs.empty:
        out_console.print(f"No runs recorded in {where}.", highlight=False)
        return
    table = Table(title=f"Runs in {where}")
    wide = out_console.width >= 120  # KPIs only where they fit; 'show' has them all
    id_width = int(runs["id"].str.len().max())
    table.add_column("id", no_wrap=True, min_width=id_width)
    table.add_column("when", no_wrap=True, min_width=16)
    for col in ("status", "plant", "parent"):
        table.add_column(col, overflow="fold")
    if wide:
        table.add_column("KPIs", overflow="fold")
    for row in runs.itertuples():
        cells = [
            row.id,
            _when(row.created_at, short=True),
            _text(row.status),
            _text(row.plant_name),
            _text(row.parent),
        ]
        if wide:
            cells.append(_kpi_text(json.loads(row.kpis), limit=3))
        table.add_row(*cells)
    out_console.print(table)


@history_app.command("show")
@report_errors
def show(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix of it).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one run: who started it, plant, parameters, KPIs, what it holds, its children."""
    with open_history_reader(db) as store:
        info = store.get_run(run)
        verdict_orders = store.get_verdict_orders(info["id"]) if "verdict" in info else None
    if json_out:
        info["created_at"] = info["created_at"].isoformat()
        if verdict_orders is not None:
            info["verdict"]["orders"] = verdict_orders.drop(columns=["delay"]).to_dict(orient="records")
        emit_json({"run": info})
        return
    p = out_console.print
    p(f"[bold]{info['id']}[/] ({info['kind']}, {info['status']})")
    p(f"  when        {_when(info['created_at'])}", highlight=False)
    p(f"  started by  {info['started_by']}", highlight=False, markup=False)
    if info["plant_hash"]:
        p(f"  plant       {info['plant_name']} ({info['plant_hash'][:12]})", highlight=False)
    if info["orders_hash"]:
        p(f"  orders      book {info['orders_hash'][:12]}", highlight=False)
    if info["parent"]:
        p(f"  parent      {info['parent']}", highlight=False)
    if info["params"]:
        p(f"  params      {json.dumps(info['params'], sort_keys=True)}", highlight=False, markup=False)
    if info["kpis"]:
        p("  kpis", highlight=False)
        for name, value in sorted(_flat(info["kpis"]).items()):
            p(f"    {name:<40} {_number(value)}", highlight=False, markup=False)
    if info["files"]:
        sizes = ", ".join(f"{k} ({len(str(v)):,} chars)" for k, v in sorted(info["files"].items()))
        p(f"  files       {sizes}", highlight=False, markup=False)
    for name, est in info["estimates"].items():
        p(
            f"  {name:<28} {est['mean']:.4g}  [{est['low']:.4g}, {est['high']:.4g}]  n={est['n']}",
            highlight=False,
        )
    if info["rows"]:
        p("  holds       " + ", ".join(f"{t}: {n}" for t, n in info["rows"].items()), highlight=False)
    if "verdict" in info:
        v = info["verdict"]
        head = "accepted" if v["accepted"] else "refused"
        p(f"  verdict     {head} ({v['replications']} replications, seed {v['seed']})", highlight=False)
        for reason in v["reasons"]:
            p(f"    - {reason}", highlight=False, markup=False)
    if info["children"]:
        p("  children    " + ", ".join(info["children"]), highlight=False)


@history_app.command("export")
@report_errors
def export(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix of it).")],
    to: Annotated[str, typer.Option("--to", help="Output file, .parquet or .csv.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Export a run: its main table to FILE, its other tables beside it (FILE stem + .table)."""
    with open_history_reader(db) as store:
        run_id = store.resolve_run(run)
        files = store.export_run(run_id, to)
    if json_out:
        emit_json({"run": run_id, "files": [str(f) for f in files]})
        return
    for f in files:
        out_console.print(str(f), highlight=False)


def _bound(value: str | None, store: HistoryStore, name: str) -> float | None:
    """Plant seconds from an ISO time or seconds (or a duration) after the plant epoch."""
    if value is None:
        return None
    plant = store.latest_plant()
    try:
        if plant is None:
            return float(value)
        return parse_time(value, plant.epoch)
    except ValueError as exc:
        raise InputError(Issue(f"{exc}", "<command line>", path=name)) from None


@history_app.command("export-actuals")
@report_errors
def export_actuals(
    to: Annotated[str, typer.Option("--to", help="Output file for the events, .parquet or .csv.")],
    start: Annotated[str | None, typer.Option(help="From (ISO time, or plant seconds).")] = None,
    end: Annotated[str | None, typer.Option(help="Until, exclusive (ISO time, or plant seconds).")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Export the floor's actual events in a time window to FILE, tag values beside it (.values)."""
    with open_history_reader(db) as store:
        files = store.export_actuals(_bound(start, store, "--start"), _bound(end, store, "--end"), to)
    if json_out:
        emit_json({"files": [str(f) for f in files]})
        return
    for f in files:
        out_console.print(str(f), highlight=False)


@history_app.command("compare")
@report_errors
def compare(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="First run (the baseline).")],
    b: Annotated[str, typer.Argument(help="Second run.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """KPIs of two runs side by side, with the difference b - a."""
    with open_history_reader(db) as store:
        a_id, b_id = store.resolve_run(a), store.resolve_run(b)
        frame = store.compare_runs(a_id, b_id)
    if json_out:
        emit_json({"a": a_id, "b": b_id, "kpis": _records(frame)})
        return
    registry = wiring(ctx).kpis
    table = Table(title=f"{a_id} vs {b_id}")
    for col in ("KPI", "a", "b", "b - a", "relative", "better"):
        table.add_column(col, justify="left" if col in ("KPI", "better") else "right")
    for row in frame.itertuples():
        rel = "" if pd.isna(row.relative) else f"{row.relative:+.1%}"
        diff = "" if pd.isna(row.difference) else f"{row.difference:+.4g}"
        known = row.kpi in registry  # only a registry KPI has a direction and a format
        a_text = registry.format(row.kpi, row.a, "") if known else _cell(row.a)
        b_text = registry.format(row.kpi, row.b, "") if known else _cell(row.b)
        table.add_row(row.kpi, a_text, b_text, diff, rel, registry.better(row.kpi) or "")
    out_console.print(table)


_KPI_KEYS = ("produced", "good", "scrapped", "availability", "performance", "quality", "oee")


def _kpi_record(row: dict[str, Any], by: str, registry: KpiRegistry) -> dict[str, Any]:
    """One station (and shift) of `history kpis --json`: the stable keys, the ISO 22400 time
    elements (seconds; machine-seconds on parallel machines) and what they rest on, and under
    `kpis` every station-level KPI of the registry."""
    out: dict[str, Any] = {"station": row["station"]}
    if by == "shift":
        out.update(shift=row["shift"], shift_start=row["shift_start_ts"].isoformat())
        out["shift_end"] = row["shift_end_ts"].isoformat()
    out.update({k: row[k] for k in _KPI_KEYS})
    out.update({iso: row[col] for col, iso in ISO_ELEMENTS.items()})
    out.update(
        idle=row["idle"],
        stopped=row["stopped"],
        recorded=row["recorded"],
        planned_run_time=row["planned_run_time"],
        lots_started=row["batches"],
        machines=row["machines"],
        state_basis=row["state_basis"],
        not_measured=[r for r in str(row["not_measured"]).split("; ") if r],
        kpis={k.name: row[k.name] for k in registry.kpis if k.scope != "plant" and k.name in row},
    )
    return out


@history_app.command("kpis")
@report_errors
def kpis(
    ctx: typer.Context,
    db: DbOption = None,
    since: Annotated[
        str | None, typer.Option(help="From (ISO time, or plant seconds / a duration after the epoch).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Until, exclusive (same forms as --since).")] = None,
    by: Annotated[str, typer.Option(help="One row per 'station', or per station and 'shift'.")] = "station",
    json_out: JsonOption = False,
) -> None:
    """Actual-side ISO 22400 KPIs from the floor's events: produced, scrapped, availability,
    performance, quality, OEE per station (or per station and shift) and the time elements
    behind them. Shares are fractions (1.0 = 100 %); a KPI a missing tag prevents is null."""
    if by not in ("station", "shift"):
        raise InputError(
            Issue(f"--by must be 'station' or 'shift', got {by!r}", "<command line>", path="--by")
        )
    registry = wiring(ctx).kpis
    with open_history_reader(db) as store:
        plant = store.latest_plant()
        if plant is None:
            raise InputError(Issue("the history holds no plant yet (nothing was synced or run)", store.path))
        start, end = _bound(since, store, "--since"), _bound(until, store, "--until")
        if start is not None and end is not None and end <= start:
            raise InputError(
                Issue(f"--until ({until}) is not after --since ({since})", "<command line>", path="--until")
            )
        frame = store.actual_kpis(start, end, by=by, plant=plant, kpis=registry)
        where = store.path
    rows = [_kpi_record(r, by, registry) for r in frame.to_dict(orient="records")]
    if json_out:
        window = {}
        if not frame.empty:
            window = {
                "start": frame["shift_start"].min(),
                "end": frame["shift_end"].max(),
                "start_time": frame["shift_start_ts"].min().isoformat(),
                "end_time": frame["shift_end_ts"].max().isoformat(),
            }
        emit_json({"db": where, "plant": plant.name, "by": by, "window": window, "stations": rows})
        return
    if frame.empty:
        out_console.print(f"No floor events in {where}.", highlight=False)
        return
    table = Table(title=f"Actual KPIs ({plant.name}, ISO 22400) from {where}")
    table.add_column("station")
    if by == "shift":
        table.add_column("shift")
    for col in ("produced", "scrapped", "availability", "performance", "quality", "oee"):
        table.add_column(registry.label(col) if col in registry else col, justify="right")
    table.add_column("not measured", overflow="fold")
    for r in rows:
        cells = [r["station"], *([r["shift"]] if by == "shift" else [])]
        cells += [_count(r["produced"]), _count(r["scrapped"])]
        cells += [registry.format(k, r[k]) for k in ("availability", "performance", "quality", "oee")]
        cells.append("; ".join(r["not_measured"]))
        table.add_row(*cells)
    out_console.print(table)


def _count(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.0f}"
