"""`plantwin simulate`: replications of a plant under a schedule or a dispatch rule, KPIs with 95% CIs."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from plantwin.common import emit_json, err_console, open_orders, open_plant, out_console, report_errors
from plantwin.recording import (
    DbOption,
    NoHistoryOption,
    open_history,
    record_simulation,
    record_verdict,
    report_recorded,
)
from plantwin.replications import (
    ExecutorOption,
    MaxReplicationsOption,
    PrecisionOption,
    WorkersOption,
    open_executor,
    parse_precision,
)
from sim import RULES, Replications, replicate
from sim.check import judge
from sim.run import UnknownKPIError
from twin.errors import InputError, Issue
from twin.loader import load_schedule
from twin.stats import Estimate
from twin.timeutil import format_duration, parse_duration
from twin.verdict import AcceptancePolicy, Verdict

HEADLINE = (
    ("throughput_per_hour", "throughput (good units / h)"),
    ("orders_per_hour", "orders completed / h"),
    ("lead_time_mean", "mean time in system (lead time)"),
    ("wip_mean", "time-average WIP (orders)"),
    ("on_time_rate", "on-time rate"),
    ("tardiness_total", "total tardiness"),
    ("makespan", "makespan"),
    ("oee", "OEE (plant)"),
    ("availability", "availability (plant)"),
    ("performance", "performance (plant)"),
    ("quality", "quality (plant)"),
)
_TIMES = {"lead_time_mean", "tardiness_total", "makespan"}
_RATIOS = {"on_time_rate", "oee", "availability", "performance", "quality"}


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)


@report_errors
def simulate_cmd(
    plant: Annotated[str, typer.Argument(help="Plant YAML file, or a shipped sample name.")],
    orders: Annotated[
        str | None,
        typer.Option(help="Order book (.csv or .json); default: the plant's own, else its order stream."),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(help="Schedule (JSON, as written by the planner) for the machines to follow."),
    ] = None,
    rule: Annotated[
        str | None, typer.Option(help=f"Dispatch rule: {', '.join(RULES)} (default FIFO).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="How long to simulate, e.g. '7d', '36h'; default: until every order is done."),
    ] = None,
    replications: Annotated[int, typer.Option(min=1, help="Number of replications.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same result.")] = 0,
    min_on_time: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="With --schedule: the verdict's policy, each order on time in this share."
        ),
    ] = 0.9,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    db: DbOption = None,
    no_history: NoHistoryOption = False,
    executor: ExecutorOption = "local",
    workers: WorkersOption = 2,
    precision: PrecisionOption = None,
    max_replications: MaxReplicationsOption = 200,
) -> None:
    """Simulate a plant: a progress bar over replications, then KPIs with 95% confidence intervals."""
    if schedule is not None and rule is not None:
        raise InputError(Issue("give either --schedule or --rule, not both", "--rule"))
    rule_name = (rule or "FIFO").upper()
    if rule_name not in RULES:
        raise InputError(Issue(f"unknown rule {rule!r} (use one of {', '.join(RULES)})", "--rule"))
    horizon = None
    if until is not None:
        try:
            horizon = parse_duration(until)
        except ValueError as exc:
            raise InputError(Issue(str(exc), "--until")) from None
    model, path, _ = open_plant(plant, warn=not json_out)
    book = open_orders(model, path, orders)
    if book is None and model.order_stream is None:
        raise InputError(Issue("the plant has no order book or order stream: give --orders", str(path)))
    if book is None and horizon is None:
        raise InputError(
            Issue("orders come from the plant's order stream: give --until (e.g. 7d)", "--until")
        )
    plan = load_schedule(schedule) if schedule is not None else None
    stop = parse_precision(precision, max_replications, replications)

    many = replications > 1 or stop is not None
    with (
        open_executor(executor, workers if many else 1) as pool,
        Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("replications", total=replications)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            reps = replicate(
                model,
                book,
                schedule=plan,
                rule=rule_name,
                until=horizon,
                replications=replications,
                seed=seed,
                progress=progress,
                executor=pool.executor,
                target=stop.target if stop is not None else None,
                max_replications=stop.max_replications if stop is not None else max_replications,
            )
        except UnknownKPIError as exc:
            raise InputError(Issue(str(exc), "--precision")) from None
        except ValueError as exc:
            raise InputError(Issue(str(exc), schedule or str(path))) from None

    payload = {
        "plant": model.name,
        "file": str(path),
        "basis": "schedule" if plan is not None else f"rule {rule_name}",
        "orders": len(book) if book is not None else "order stream",
        "until": horizon,
        "replications": reps.n,
        "seed": seed,
        "executor": pool.name,
        "precision": stop.report(reps) if stop is not None else None,
        "replication_seeds": list(reps.seeds),
        "kpis": {k: _estimate_dict(e, reps.values(k)) for k, e in reps.kpis.items()},
    }
    verdict = None
    if plan is not None and book is not None:
        # The feasibility check of the schedule, on the same replications (nothing simulated twice).
        verdict = judge(reps, book, plan, AcceptancePolicy(min_on_time=min_on_time))
        payload["verdict"] = {
            "schedule_hash": verdict.schedule_hash,
            "accepted": verdict.accepted,
            "reasons": list(verdict.reasons),
            "min_on_time": min_on_time,
        }
    with open_history(db, not no_history) as store:
        params = {"basis": payload["basis"], "until": horizon, "replications": reps.n, "seed": seed}
        sim_id = record_simulation(
            store, command="simulate", plant=model, orders=book, operations=reps.operations,
            order_results=reps.orders, states=reps.states, estimates=dict(reps.kpis), schedule=plan,
            params=params, kpis={k: e.mean for k, e in reps.kpis.items()},
        )  # fmt: skip
        payload["run_id"] = sim_id
        if verdict is not None:
            payload["verdict"]["run_id"] = record_verdict(
                store, command="simulate", plant=model, orders=book, verdict=verdict, schedule=plan,
                parent=sim_id,
            )  # fmt: skip
        if not json_out:
            report_recorded(store, sim_id)
    if json_out:
        emit_json(payload)
        return
    _print_tables(reps, model.name, payload)
    if verdict is not None:
        _print_verdict(verdict)


def _print_verdict(verdict: Verdict) -> None:
    word = "[bold green]ACCEPTED[/]" if verdict.accepted else "[bold red]REFUSED[/]"
    out_console.print(f"Verdict on schedule {verdict.schedule_hash[:12]}: {word}")
    for reason in verdict.reasons:
        out_console.print(f"  - {reason}", markup=False, highlight=False)


def _estimate_dict(e: Estimate, values: list[float]) -> dict[str, object]:
    return {"mean": e.mean, "low": e.low, "high": e.high, "n": e.n, "values": values}


def _fmt(kpi: str, value: float) -> str:
    if math.isnan(value):
        return "-"
    if kpi in _TIMES or kpi.startswith(("lead_time", "makespan")):
        return format_duration(value)
    if kpi in _RATIOS or kpi.split(".")[0] in {
        "oee",
        "availability",
        "performance",
        "quality",
        "utilisation",
    }:
        return f"{value:.1%}"
    return f"{value:,.2f}"


def _cell(kpi: str, e: Estimate | None, compact: bool = False) -> str:
    if e is None:
        return "-"
    if e.n < 2 or e.low == e.high or math.isnan(e.low):
        return _fmt(kpi, e.mean)
    if compact:  # ratios as mean +- half-width in percentage points
        return f"{e.mean:.1%} ±{100 * e.half_width:.1f}"
    return f"{_fmt(kpi, e.mean)} [{_fmt(kpi, e.low)}, {_fmt(kpi, e.high)}]"


def _print_tables(reps: Replications, name: str, payload: dict[str, object]) -> None:
    until = payload["until"]
    span = format_duration(until) if isinstance(until, float) else "until done"
    table = Table(title=f"{name}: {payload['basis']}, {reps.n} replications, {span} (mean [95% CI])")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for kpi, label in HEADLINE:
        table.add_row(label, _cell(kpi, reps.kpis.get(kpi)))
    out_console.print(table)
    stations = sorted({k.split(".", 1)[1] for k in reps.kpis if k.startswith("oee.")})
    per = Table(title="Per station (ISO 22400; mean ± 95% CI half-width, points)")
    per.add_column("station")
    for col in ("OEE", "availability", "performance", "quality", "busy"):
        per.add_column(col, justify="right")
    for s in stations:
        per.add_row(
            s,
            *(
                _cell(f"{k}.{s}", reps.kpis.get(f"{k}.{s}"), compact=True)
                for k in ("oee", "availability", "performance", "quality", "utilisation")
            ),
        )
    out_console.print(per)
