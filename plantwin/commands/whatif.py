"""`plantwin whatif` (what-if scenarios against the baseline) and `plantwin promise` (capable-to-promise)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
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
    record_plan,
    record_scenario,
    record_verdict,
    report_recorded,
)
from plantwin.replications import ExecutorOption, WorkersOption, open_executor
from scenarios.counteroffer import describe
from scenarios.files import library_descriptions, load_scenario
from scenarios.html import render_html
from scenarios.model import PlannerSettings
from scenarios.promise import PromiseResult, promise
from scenarios.report import ScenarioReport
from scenarios.runner import run_scenario
from twin.bounds import MAX_QUANTITY
from twin.errors import InputError, Issue
from twin.kpi import KpiRegistry
from twin.orders import Order
from twin.plant import Plant
from twin.stats import Estimate
from twin.timeutil import format_duration, parse_time, to_datetime


def register(app: typer.Typer) -> None:
    app.command("whatif")(whatif)
    app.command("promise")(promise_cmd)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr; yields the callback the runner calls."""
    if not enabled:
        yield lambda what, done, total: None
        return
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=err_console, transient=True,
    )  # fmt: skip
    with bar:
        task = bar.add_task("starting", total=1)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        yield update


def _record(
    report: ScenarioReport, db: str | None, enabled: bool, text: str, plant: Plant, orders: list[Order]
) -> tuple[str | None, dict[str, str]]:
    """Store the run in the history: the baseline plan (if any) as a plan run, the scenario run as
    its child with the scenario file as it was, the full report, and KPI estimates; and every
    side's verdict like any other check (found later by its schedule, plant and order-book
    hashes, so a variant's plan can be dispatched). Returns the scenario run and side -> verdict run."""
    estimates: dict[str, Estimate | float] = {}
    kpis: dict[str, float] = {}
    for k, est in report.baseline.kpis.items():
        if "." not in k:
            estimates[f"baseline.{k}"] = est
            kpis[f"baseline.{k}"] = est.mean
    for v in report.variants:
        for c in v.comparison:
            if "." not in c.kpi:
                estimates[f"{v.name}.{c.kpi}"] = c.variant
                estimates[f"{v.name}.{c.kpi}.difference"] = c.difference
                kpis[f"{v.name}.{c.kpi}.difference"] = c.difference.mean
    with open_history(db, enabled) as store:
        if store is None:
            return None, {}
        parent = None
        if report.baseline.schedule is not None:
            parent = record_plan(
                store, command="whatif", plant=plant, orders=orders, schedule=report.baseline.schedule,
                params={"scenario": report.scenario, "role": "baseline", **report.baseline.plan.to_dict()},
            )  # fmt: skip
        variant_schedule = report.variants[0].side.schedule if len(report.variants) == 1 else None
        run_id = record_scenario(
            store, command="whatif", plant=plant, orders=orders, schedule=variant_schedule,
            params={"scenario": report.scenario, "source": report.source, "seed": report.seed,
                    "replications": report.replications, "variants": [v.name for v in report.variants]},
            kpis=kpis, estimates=estimates, parent=parent,
            extra_files={"scenario.yaml": text, "report.json": json.dumps(_clean(report.to_dict()))},
        )  # fmt: skip
        report_recorded(store, run_id)
        verdict_runs: dict[str, str] = {}
        sides = [("baseline", report.baseline), *((v.name, v.side) for v in report.variants)]
        for name, side in sides:
            if side.verdict is None or side.schedule is None or side.plant is None:
                continue  # not checked (a dispatch rule, or no plan)
            vid = record_verdict(
                store, command="whatif", plant=side.plant, orders=side.orders, verdict=side.verdict,
                schedule=side.schedule, parent=run_id,
                params={"scenario": report.scenario, "side": name, "seed": report.seed},
            )  # fmt: skip
            if vid is not None:
                verdict_runs[name] = vid
    return run_id, verdict_runs


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@report_errors
def whatif(
    ctx: typer.Context,
    scenario: Annotated[
        str | None, typer.Argument(help="Scenario YAML file, or a library scenario name (see --list).")
    ] = None,
    replications: Annotated[int | None, typer.Option(help="Replications (default: the file's).")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed (default: the file's); same seed, same numbers.")
    ] = None,
    db: DbOption = None,
    no_history: NoHistoryOption = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write a standalone HTML report.")] = None,
    executor: ExecutorOption = "local",
    workers: WorkersOption = 2,
    list_: Annotated[bool, typer.Option("--list", help="List the library scenarios.")] = False,
    no_counter_offer: Annotated[
        bool, typer.Option("--no-counter-offer", help="No counter-offer search for a refused rush order.")
    ] = False,
    live: LiveOption = None,
    live_max_age: LiveMaxAgeOption = DEFAULT_MAX_AGE,
) -> None:
    """Run a what-if scenario: baseline vs each variant, same seeds, paired 95 % CIs."""
    if list_ or scenario is None:
        found = library_descriptions()
        if json_out:
            emit_json({"library": found})
        else:
            for name, text in found.items():
                out_console.print(f"{name:24s} {text}", highlight=False, markup=False)
        return
    args.whole("--replications", replications, 2, args.MAX_REPLICATIONS)
    args.seed("--seed", seed)
    args.whole("--workers", workers, 1, args.MAX_WORKERS)
    loaded = load_scenario(scenario)
    state = open_live(loaded.plant, live, live_max_age) if live is not None else None
    kpis = wiring(ctx).kpis
    with (
        _progress(not json_out) as progress,
        open_executor(executor, workers) as pool,
    ):
        report = run_scenario(
            loaded, replications=replications, seed=seed, executor=pool.executor, executor_name=pool.name,
            progress=progress, live=state, counter_offers=False if no_counter_offer else None, kpis=kpis,
        )  # fmt: skip
    run_id, verdict_runs = _record(report, db, not no_history, loaded.text, loaded.plant, list(loaded.orders))
    if run_id is not None:
        from dataclasses import replace

        report = replace(report, run_id=run_id)
    if html_out is not None:
        html_out.write_text(render_html(report, kpis), encoding="utf-8")
        if not json_out:
            err_console.print(f"wrote {html_out}")
    if json_out:
        emit_json({**report.to_dict(), "verdict_runs": verdict_runs})
        return
    _print_report(report, loaded.plant.epoch, kpis)
    for name, vid in verdict_runs.items():
        err_console.print(
            f"plantwin: verdict on the {name} plan recorded as {vid} (dispatch: plantwin dispatch {vid})",
            highlight=False,
            markup=False,
        )


def _check_text(accepted: bool | None, reasons: tuple[str, ...]) -> str:
    """'accepted' / 'refused: first reason (+ n more)' for the terminal (the JSON has them all)."""
    word = "accepted" if accepted else "refused" if accepted is False else "n/a"
    if not reasons:
        return word
    more = f" (+{len(reasons) - 1} more reasons)" if len(reasons) > 1 else ""
    return f"{word}: {reasons[0]}{more}"


def _fmt(kpis: KpiRegistry, kpi: str, value: float | None) -> str:
    """The value as the KPI registry formats it ('–' when undefined)."""
    return kpis.format(kpi, value, "–")


def _print_report(report: ScenarioReport, epoch: datetime, kpis: KpiRegistry) -> None:
    out_console.print(
        f"[bold]{report.scenario}[/]: {report.description}\n"
        f"plant {report.plant}, {report.replications} replications, seed {report.seed} "
        "(common random numbers)",
        highlight=False,
    )
    b = report.baseline
    out_console.print(
        f"baseline plan: {b.plan.mode} ({b.plan.status}); "
        f"check: {_check_text(b.check.accepted, b.check.reasons)}",
        highlight=False, markup=False,
    )  # fmt: skip
    for v in report.variants:
        table = Table(title=f"{v.name}: baseline / variant / difference (95 % CI of the paired difference)")
        for col in ("KPI", "better", "baseline", "variant", "difference", "95 % CI", "effect"):
            table.add_column(col, justify="left" if col in ("KPI", "effect") else "right")
        heads = kpis.headline
        rows = sorted((c for c in v.comparison if c.kpi in heads), key=lambda c: kpis.headline_rank(c.kpi))
        for c in rows:
            style = {"better": "green", "worse": "red"}.get(c.verdict, "")
            diff = c.difference
            ci = f"[{_fmt_diff(kpis, c.kpi, diff.low)}, {_fmt_diff(kpis, c.kpi, diff.high)}]"
            effect = {"better": "better", "worse": "worse", "changed": "changed"}.get(c.verdict, "n.s.")
            table.add_row(
                c.kpi, c.better or "?", _fmt(kpis, c.kpi, c.baseline.mean), _fmt(kpis, c.kpi, c.variant.mean),
                _fmt_diff(kpis, c.kpi, diff.mean), ci, effect, style=style,
            )  # fmt: skip
        out_console.print(table)
        out_console.print("n.s.: the 95 % CI of the paired difference contains 0", highlight=False)
        if v.infeasible:
            out_console.print(f"[bold red]no plan exists[/]: {v.infeasible}", highlight=False)
        check = v.side.check
        out_console.print(
            f"plan: {v.side.plan.mode} ({v.side.plan.status}); "
            f"check: {_check_text(check.accepted, check.reasons)}",
            highlight=False, markup=False,
        )  # fmt: skip
        for r in v.rush:
            p = "–" if r.variant is None else f"{r.variant:.0%}"
            out_console.print(f"rush order {r.order_id}: on time in {p} of replications", highlight=False)
        hurt = [o for o in v.orders if o.change is not None and o.change < 0]
        if hurt:
            out_console.print("collateral damage (on-time probability, worst first):", highlight=False)
            for o in hurt[:10]:
                out_console.print(
                    f"  {o.order_id:10s} {o.baseline:.0%} -> {o.variant:.0%} ({o.change:+.0%})",
                    highlight=False,
                )
        else:
            out_console.print("collateral damage: no existing order lost on-time probability")
        if v.moved:
            out_console.print(
                f"the planner moved {len(v.moved)} operations; largest shifts:", highlight=False
            )
            for m in v.moved[:5]:
                out_console.print(
                    f"  {m.order_id} {m.operation}: {m.from_machine} -> {m.to_machine}, "
                    f"{format_duration(m.shift)}",
                    highlight=False,
                )
        if v.fits is not None:
            out_console.print(f"verdict: [bold]{'fits' if v.fits else 'does not fit'}[/]")
        if v.counter_offer is not None:
            for line in describe(v.counter_offer, epoch):
                out_console.print(line, highlight=False, markup=False)
    if report.expect is not None:
        out_console.print(
            f"expected: {report.expect} -> {'as expected' if report.expect_met else 'NOT as expected'}"
        )
    if report.sweep is not None:
        s = report.sweep
        table = Table(title=f"sweep ({s.executor}): {s.objective}, {s.goal}")
        for p in s.parameters:
            table.add_column(p, justify="right")
        table.add_column(s.objective, justify="right")
        table.add_column("95 % CI", justify="right")
        for k, point in enumerate(s.points):
            est = point.kpis.get(s.objective)
            table.add_row(
                *(str(point.values[p]) for p in s.parameters),
                _fmt(kpis, s.objective, est.mean if est else None),
                f"[{_fmt(kpis, s.objective, est.low)}, {_fmt(kpis, s.objective, est.high)}]" if est else "–",
                style="bold green" if k == s.best else "",
            )
        out_console.print(table)
        if s.best is not None:
            out_console.print(f"best point: {s.points[s.best].values}", highlight=False)
    for note in report.notes:
        out_console.print(f"note: {note}", highlight=False, markup=False)


def _fmt_diff(kpis: KpiRegistry, kpi: str, value: float) -> str:
    if value != value:
        return "–"
    text = _fmt(kpis, kpi, abs(value))
    return ("-" if value < 0 else "+") + text


@report_errors
def promise_cmd(
    product: Annotated[str, typer.Argument(help="Product id.")],
    quantity: Annotated[int, typer.Argument(help="Quantity (units).")],
    confidence: Annotated[float, typer.Option(help="Required on-time probability.")] = 0.9,
    plant: Annotated[str, typer.Option(help="Plant YAML file, or a shipped sample name.")] = "demo",
    orders: Annotated[str | None, typer.Option(help="Order book; default: the plant's own.")] = None,
    now: Annotated[str, typer.Option(help="When the order is taken (ISO time, seconds or duration).")] = "0",
    replications: Annotated[int, typer.Option(help="Replications per candidate due time.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed (common random numbers for every candidate).")] = 0,
    mode: Annotated[str, typer.Option(help="solve (re-plan with CP-SAT) or dispatch (EDD rule).")] = "solve",
    time_limit: Annotated[float, typer.Option(help="CP-SAT seconds per candidate re-plan.")] = 5.0,
    resolution: Annotated[str, typer.Option(help="Stop bisecting at this precision.")] = "15m",
    db: DbOption = None,
    no_history: NoHistoryOption = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    live: LiveOption = None,
    live_max_age: LiveMaxAgeOption = DEFAULT_MAX_AGE,
    executor: ExecutorOption = "local",
    workers: WorkersOption = 2,
) -> None:
    """Capable-to-promise: the earliest due time for a new order met with the given confidence."""
    args.whole("QUANTITY", quantity, 1, MAX_QUANTITY)
    args.number("--confidence", confidence, 0, 1, lo_open=True, what="a probability")
    args.whole("--replications", replications, 2, args.MAX_REPLICATIONS)
    args.seed("--seed", seed)
    args.number("--time-limit", time_limit, 0, args.MAX_TIME_LIMIT, lo_open=True)
    model, path, _ = open_plant(plant, warn=not json_out)
    book = open_orders(model, path, orders) or []
    if mode not in ("solve", "dispatch"):
        raise InputError(Issue("mode must be 'solve' or 'dispatch'", "--mode"))
    try:
        t_now = parse_time(now, model.epoch)
        step = parse_time(resolution, model.epoch)
    except ValueError as exc:
        raise InputError(Issue(str(exc), "--now/--resolution")) from None
    settings = PlannerSettings(mode=mode, objective="tardiness", time_limit=time_limit)  # type: ignore[arg-type]
    state = open_live(model, live, live_max_age) if live is not None else None
    with _progress(not json_out) as progress, open_executor(executor, workers) as pool:
        result = promise(
            model, book, product, quantity, confidence=confidence, now=t_now, replications=replications,
            seed=seed, settings=settings, resolution=step, progress=progress, executor=pool.executor,
            live=state,
        )  # fmt: skip
    payload = result.to_dict()
    payload["promise_time"] = to_datetime(result.promise, model.epoch).isoformat() if result.promise else None
    if not no_history:
        _record_promise(result, payload, db, model, book)
    if json_out:
        emit_json(payload)
        return
    _print_promise(result, payload, model.epoch)


def _record_promise(result: PromiseResult, payload: dict[str, Any], db: str | None, plant: Plant,
                    book: list[Order]) -> None:  # fmt: skip
    """A promise is a what-if (kind 'scenario'): the question, the answer, and the evidence."""
    with open_history(db, True) as store:
        run_id = record_scenario(
            store, command="promise", plant=plant, orders=book,
            params={"promise": {"product": result.product, "quantity": result.quantity,
                                "confidence": result.confidence, "now": result.now, "mode": result.mode}},
            kpis={"promise": result.promise, "lower_bound": result.lower_bound},
            extra_files={"promise.json": json.dumps(_clean(payload))},
        )  # fmt: skip
        report_recorded(store, run_id)


def _print_promise(result: PromiseResult, payload: dict[str, Any], epoch: Any) -> None:
    table = Table(
        title=f"Evidence: {result.quantity} x {result.product}, {result.replications} replications each"
    )
    for col in ("due", "on time", "95 % Wilson", "planned completion", "promisable", "hurts"):
        table.add_column(col, justify="right")
    for c in sorted(result.candidates, key=lambda c: c.due):
        table.add_row(
            to_datetime(c.due, epoch).strftime("%a %d %b %H:%M"),
            f"{c.on_time:.0%}",
            f"[{c.ci_low:.0%}, {c.ci_high:.0%}]",
            to_datetime(c.planned_completion, epoch).strftime("%a %d %b %H:%M")
            if c.planned_completion
            else "–",
            "yes" if c.promisable else "no",
            ", ".join(c.collateral) or "–",
            style="bold green" if c.due == result.promise else "",
        )
    out_console.print(table)
    if result.promise is None:
        out_console.print(
            f"[bold red]cannot promise[/] {result.quantity} x {result.product} at {result.confidence:.0%}"
        )
    else:
        out_console.print(
            f"promise: [bold]{payload['promise_time']}[/] "
            f"({format_duration(result.promise - result.now)} from now) "
            f"at {result.confidence:.0%} confidence",
            highlight=False,
        )
    for note in result.notes:
        out_console.print(f"note: {note}", highlight=False, markup=False)
