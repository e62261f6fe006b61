"""`plantwin simulate`: replications of a plant under a schedule or a dispatch rule, KPIs with 95% CIs."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from plantwin import args
from plantwin.common import (
    emit_json,
    err_console,
    open_orders,
    open_plant,
    out_console,
    report_errors,
    wiring,
)
from plantwin.livesource import DEFAULT_MAX_AGE, LiveMaxAgeOption, LiveOption, open_live
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
from twin.distributions import check_duration
from twin.errors import InputError, Issue
from twin.fit import misfit_summary, misfits
from twin.kpi import KpiRegistry
from twin.loader import load_schedule
from twin.stats import Estimate
from twin.timeutil import format_duration
from twin.verdict import AcceptancePolicy, Verdict


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)


@report_errors
def simulate_cmd(
    ctx: typer.Context,
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
    replications: Annotated[int, typer.Option(help="Number of replications.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same result.")] = 0,
    min_on_time: Annotated[
        float,
        typer.Option(help="With --schedule: the verdict's policy, each order on time in this share."),
    ] = 0.9,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    db: DbOption = None,
    no_history: NoHistoryOption = False,
    live: LiveOption = None,
    live_max_age: LiveMaxAgeOption = DEFAULT_MAX_AGE,
    executor: ExecutorOption = "local",
    workers: WorkersOption = 2,
    precision: PrecisionOption = None,
    max_replications: MaxReplicationsOption = 200,
) -> None:
    """Simulate a plant: a progress bar over replications, then KPIs with 95% confidence intervals."""
    args.whole("--replications", replications, 1, args.MAX_REPLICATIONS)
    args.seed("--seed", seed)
    args.number("--min-on-time", min_on_time, 0, 1, what="a share")
    if schedule is not None and rule is not None:
        raise InputError(Issue("give either --schedule or --rule, not both", "--rule"))
    rule_name = (rule or "FIFO").upper()
    if rule_name not in RULES:
        raise InputError(Issue(f"unknown rule {rule!r} (use one of {', '.join(RULES)})", "--rule"))
    horizon = None
    if until is not None:
        try:
            horizon = check_duration(until)
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
    kpis = wiring(ctx).kpis
    if plan is not None:
        found = misfits(plan, model, book)
        if found:  # a plan of another plant or order book: nothing to judge, no verdict
            raise InputError(Issue(misfit_summary(found, model), schedule or ""))
    state = open_live(model, live, live_max_age) if live is not None else None
    if state is not None and horizon is not None:
        horizon += state.time  # --until counts from the live state's time
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
                live=state,
                kpis=kpis,
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
    if state is not None:
        payload["live"] = {"source": live, "time": state.time, "in_progress": len(state.in_progress)}
    verdict = None
    if plan is not None and book is not None:
        # The feasibility check of the schedule, on the same replications (nothing simulated twice).
        verdict = judge(reps, book, plan, AcceptancePolicy(min_on_time=min_on_time), plant=model)
        payload["verdict"] = {
            "schedule_hash": verdict.schedule_hash,
            "accepted": verdict.accepted,
            "reasons": list(verdict.reasons),
            "min_on_time": min_on_time,
            "plant_hash": verdict.plant_hash,
            "orders_hash": verdict.orders_hash,
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
    _print_tables(reps, model.name, payload, kpis)
    if verdict is not None:
        _print_verdict(verdict)


def _print_verdict(verdict: Verdict) -> None:
    word = "[bold green]ACCEPTED[/]" if verdict.accepted else "[bold red]REFUSED[/]"
    out_console.print(f"Verdict on schedule {verdict.schedule_hash[:12]}: {word}")
    for reason in verdict.reasons:
        out_console.print(f"  - {reason}", markup=False, highlight=False)


def _estimate_dict(e: Estimate, values: list[float]) -> dict[str, object]:
    return {"mean": e.mean, "low": e.low, "high": e.high, "n": e.n, "values": values}


def _cell(kpis: KpiRegistry, kpi: str, e: Estimate | None, compact: bool = False) -> str:
    if e is None:
        return "-"
    if e.n < 2 or e.low == e.high or math.isnan(e.low):
        return kpis.format(kpi, e.mean)
    k = kpis.get(kpi)
    if compact and k is not None and k.fmt == "percent":  # a share's interval need not be symmetric
        return f"{e.mean:.1%} [{100 * e.low:.1f}, {100 * e.high:.1f}]"
    return f"{kpis.format(kpi, e.mean)} [{kpis.format(kpi, e.low)}, {kpis.format(kpi, e.high)}]"


def _print_tables(reps: Replications, name: str, payload: dict[str, object], kpis: KpiRegistry) -> None:
    until = payload["until"]
    span = format_duration(until) if isinstance(until, float) else "until done"
    table = Table(title=f"{name}: {payload['basis']}, {reps.n} replications, {span} (mean [95% CI])")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    table.add_column("better", justify="center")
    plant_level = sorted(
        (k for k in kpis.kpis if k.in_results and k.scope != "station"),
        key=lambda k: kpis.headline_rank(k.name),
    )
    for k in plant_level:
        label = f"{k.label} (plant)" if k.scope == "both" else k.label
        arrow = "↑" if k.better == "higher" else "↓"
        table.add_row(label, _cell(kpis, k.name, reps.kpis.get(k.name)), arrow)
    out_console.print(table)
    per_station = [k for k in kpis.kpis if k.in_results and k.scope != "plant"]
    stations = sorted({k.split(".", 1)[1] for k in reps.kpis if "." in k and k in kpis})
    per = Table(title="Per station (ISO 22400; mean [95% CI], percent; ↑/↓ better)")
    per.add_column("station")
    for k in per_station:
        per.add_column(f"{k.label} {'↑' if k.better == 'higher' else '↓'}", justify="right")
    for s in stations:
        per.add_row(
            s, *(_cell(kpis, f"{k.name}.{s}", reps.kpis.get(f"{k.name}.{s}"), True) for k in per_station)
        )
    out_console.print(per)
