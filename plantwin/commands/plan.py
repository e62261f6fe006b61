"""`plantwin plan` and `plantwin replan`: plan an order book or a classic job shop; re-plan for rush."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from planner.dispatch import RULES
from planner.loop import plan_until_accepted
from planner.replan import replan as replan_core
from planner.results import IterationReport, PlanResult, ReplanResult
from planner.solver import dispatch_schedule, solve
from plantwin import args
from plantwin.common import emit_json, err_console, open_orders, open_plant, out_console, report_errors
from plantwin.recording import DbOption, NoHistoryOption, open_history, record_plan, report_recorded
from plantwin.replications import (
    ExecutorOption,
    MaxReplicationsOption,
    Precision,
    PrecisionOption,
    open_executor,
    parse_precision,
)
from sim.run import UnknownKPIError
from twin.errors import InfeasibleError, InputError, Issue
from twin.jssp import jssp_from_text
from twin.live_json import live_from_json
from twin.loader import load_orders, load_schedule
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.timeutil import format_duration, parse_duration, to_datetime

OBJECTIVES = ("makespan", "tardiness", "mixed")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("replan")(replan)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Issue("file not found", path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Issue(f"cannot read file: {exc}", path)) from None


def _write(schedule: Schedule, out: Path) -> Path:
    """The schedule as JSON at `out` and as CSV beside it (same name, .csv)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(schedule.to_json(), encoding="utf-8")
    csv_path = out.with_suffix(".csv")
    csv_path.write_text(schedule.to_csv(), encoding="utf-8")
    return csv_path


def _check_args(objective: str, time_limit: float, workers: int) -> None:
    if objective not in OBJECTIVES:
        raise InputError(Issue(f"objective must be one of {', '.join(OBJECTIVES)}", "--objective"))
    args.number("--time-limit", time_limit, 0, args.MAX_TIME_LIMIT, lo_open=True)
    args.whole("--workers", workers, 1, args.MAX_WORKERS)


def _require_schedule(result: PlanResult) -> None:
    """No schedule is a user-level failure (exit 2) with the solver's word for why."""
    if result.schedule.operations:
        return
    if result.status == "INFEASIBLE":
        raise InfeasibleError("CP-SAT proved that no schedule satisfies the plant's constraints (INFEASIBLE)")
    raise InfeasibleError(
        f"CP-SAT found no schedule within the time limit ({result.status}); raise --time-limit"
    )


def _summary(model: Plant | None, result: PlanResult) -> dict[str, object]:
    out = result.summary()
    if model is not None and result.schedule.operations:
        out["makespan_at"] = to_datetime(result.makespan, model.epoch).isoformat()
    return out


def _print_result(model: Plant, result: PlanResult, title: str) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("status", result.status)
    if result.schedule.operations:
        end = to_datetime(result.makespan, model.epoch)
        table.add_row("makespan", f"{format_duration(result.makespan)} (ends {end:%a %Y-%m-%d %H:%M})")
    table.add_row(
        "late orders",
        f"{len(result.late_orders)}" + (f": {', '.join(result.late_orders)}" if result.late_orders else ""),
    )

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:,.0f}"

    table.add_row("objective / bound", f"{num(result.objective)} / {num(result.bound)}")
    table.add_row("gap", "unknown" if result.gap is None else f"{result.gap:.2%}")
    table.add_row("seconds", f"{result.seconds:.1f}")
    out_console.print(table)
    for note in result.notes:
        out_console.print(f"note: {note}", highlight=False)


def _record(
    db: str | None,
    no_history: bool,
    model: Plant,
    book: list[Order],
    result: PlanResult,
    params: dict[str, object],
    quiet: bool,
) -> str | None:
    """Record the plan (and its schedule) in the history unless --no-history; return the run id."""
    if not result.schedule.operations:
        return None
    kpis = {
        k: v
        for k, v in {"objective": result.objective, "bound": result.bound, "gap": result.gap,
                     "seconds": result.seconds, "late_orders": len(result.late_orders)}.items()
        if v is not None
    }  # fmt: skip
    with open_history(db, not no_history) as store:
        run_id = record_plan(
            store, command="plan", plant=model, orders=book, schedule=result.schedule,
            params={**params, "status": result.status}, kpis=kpis,
        )  # fmt: skip
        if not quiet:
            report_recorded(store, run_id)
    return run_id


@report_errors
def plan(
    plant: Annotated[str | None, typer.Argument(help="Plant YAML file, or a shipped sample name.")] = None,
    orders: Annotated[
        str | None, typer.Option(help="Order book (.csv or .json); default: the plant's own.")
    ] = None,
    jssp: Annotated[
        str | None,
        typer.Option(help="Plan a classic job-shop instance (OR-Library/Taillard format) instead."),
    ] = None,
    objective: Annotated[str, typer.Option(help="makespan, tardiness or mixed.")] = "makespan",
    time_limit: Annotated[float, typer.Option(help="CP-SAT time limit, seconds.")] = 10.0,
    workers: Annotated[int, typer.Option(help="CP-SAT worker threads.")] = 2,
    seed: Annotated[int, typer.Option(help="CP-SAT random seed.")] = 0,
    rule: Annotated[
        str | None, typer.Option(help="Skip CP-SAT: an instant schedule by a dispatch rule (EDD, SPT, ATC).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Schedule JSON path (CSV written beside it); default schedule.json.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    db: DbOption = None,
    no_history: NoHistoryOption = False,
    until_accepted: Annotated[
        bool,
        typer.Option(
            "--until-accepted", help="Plan, check with the simulator, repair by cause; repeat until accepted."
        ),
    ] = False,
    max_passes: Annotated[int, typer.Option(help="With --until-accepted: at most this many passes.")] = 4,
    replications: Annotated[
        int, typer.Option(help="With --until-accepted: replications of each pass's check.")
    ] = 30,
    executor: ExecutorOption = "local",
    precision: PrecisionOption = None,
    max_replications: MaxReplicationsOption = 200,
) -> None:
    """Plan an order book on a plant with CP-SAT; print makespan, late orders and gap; write the schedule."""
    _check_args(objective, time_limit, workers)
    args.seed("--seed", seed)
    if until_accepted:
        stop = parse_precision(precision, max_replications, replications)
        _until_accepted(plant, orders, max_passes, replications, time_limit, workers, seed, out, json_out, db,
                        no_history, executor, stop)  # fmt: skip
        return
    if precision is not None:
        raise InputError(Issue("only with --until-accepted (the check's replications)", "--precision"))
    if jssp is not None:
        if plant is not None:
            raise InputError(Issue("give either a PLANT or --jssp FILE, not both", "plan"))
        name = re.sub(r"[^A-Za-z0-9_]", "_", Path(jssp).name) or "jssp"
        model, book = jssp_from_text(_read(jssp), jssp, name)
        result = solve(model, book, objective=objective, time_limit=time_limit, workers=workers, seed=seed)
        _require_schedule(result)
        payload = {"instance": jssp, "jobs": len(book), "machines": len(model.stations), **result.summary()}
        payload["run_id"] = _record(db, no_history, model, book, result, {"jssp": jssp}, json_out)
        if out is not None and result.schedule.operations:
            payload["files"] = [str(out), str(_write(result.schedule, out))]
        if json_out:
            emit_json(payload)
        else:
            _print_result(model, result, f"{jssp}: {len(book)} jobs x {len(model.stations)} machines")
        return
    if plant is None:
        raise InputError(Issue("missing PLANT (a plant file or sample name) or --jssp FILE", "plan"))
    model, path, _ = open_plant(plant, warn=not json_out)
    book = open_orders(model, path, orders)
    if not book:
        raise InputError(Issue("no orders: give --orders FILE (the plant ships no order book)", str(path)))
    out = out or Path("schedule.json")
    if rule is not None:
        if rule.upper() not in RULES:
            raise InputError(Issue(f"rule must be one of {', '.join(RULES)}", "--rule"))
        schedule = dispatch_schedule(model, book, rule=rule)
        late = tuple(sorted(o.id for o in book if schedule.completion().get(o.id, 0) > o.due))
        result = PlanResult(
            schedule,
            "FEASIBLE",
            None,
            None,
            None,
            0.0,
            late,
            schedule.makespan,
            notes=(f"dispatch rule {rule}",),
        )
    else:
        if not json_out:
            err_console.print(
                f"planning {len(book)} orders with CP-SAT ({objective}, {time_limit:g} s, {workers} workers)"
            )
        result = solve(model, book, objective=objective, time_limit=time_limit, workers=workers, seed=seed)
        _require_schedule(result)
    files: list[str] = []
    if result.schedule.operations:
        files = [str(out), str(_write(result.schedule, out))]
    params = {
        "objective": objective,
        "time_limit": time_limit,
        "workers": workers,
        "seed": seed,
        "rule": rule,
    }
    run_id = _record(db, no_history, model, book, result, params, json_out)
    if json_out:
        emit_json(
            {
                "plant": model.name,
                "orders": len(book),
                **_summary(model, result),
                "files": files,
                "run_id": run_id,
            }
        )
        return
    _print_result(model, result, f"{model.name}: {len(book)} orders")
    if files:
        out_console.print(f"schedule written to {files[0]} and {files[1]}", highlight=False)


def _pass_json(model: Plant, report: IterationReport) -> dict[str, object]:
    plan = report.plan
    return {
        "pass": report.iteration,
        "objective": report.objective,
        "status": plan.status,
        "makespan": plan.makespan,
        "planned_late": list(plan.late_orders),
        "accepted": report.verdict.accepted,
        "replications": report.verdict.replications,
        "failing": list(report.failing),
        "failing_count": len(report.failing),
        "causes": dict(report.causes),
        "on_time": dict(report.on_time),
        "changes": list(report.changes),
        "reasons": list(report.verdict.reasons),
        "best_so_far": report.best,
        "note": report.note,
        "transfer_batches": {
            o.order_id: o.transfer_batch for o in plan.schedule.operations if o.transfer_batch is not None
        },
    }


def _until_accepted(
    plant: str | None, orders: str | None, max_passes: int, replications: int, time_limit: float,
    workers: int, seed: int, out: Path | None, json_out: bool, db: str | None, no_history: bool,
    executor: str = "local", stop: Precision | None = None,
) -> None:  # fmt: skip
    """`plan --until-accepted`: the plan -> simulate -> repair loop, every pass reported."""
    if plant is None:
        raise InputError(Issue("missing PLANT (a plant file or sample name)", "plan --until-accepted"))
    if max_passes < 1:
        raise InputError(Issue(f"must be at least 1, got {max_passes}", "--max-passes"))
    if replications < 2:
        raise InputError(Issue(f"must be at least 2, got {replications}", "--replications"))
    model, path, _ = open_plant(plant, warn=not json_out)
    book = open_orders(model, path, orders)
    if not book:
        raise InputError(Issue("no orders: give --orders FILE (the plant ships no order book)", str(path)))
    out = out or Path("schedule.json")

    def said(report: IterationReport) -> None:
        if not json_out:
            err_console.print(
                f"pass {report.iteration}: {len(report.failing)} order(s) failing"
                + (f" ({', '.join(report.failing[:8])}{', ...' if len(report.failing) > 8 else ''})"
                   if report.failing else "")
                + (f"; {report.note}" if report.note else ""),
                highlight=False,
            )  # fmt: skip

    if not json_out:
        err_console.print(
            f"planning {len(book)} orders until the simulator accepts ({replications} replications, "
            f"at most {max_passes} passes, {time_limit:g} s per plan)"
        )
    with open_executor(executor, workers) as pool:  # the checks' replications: local or Dask
        try:
            loop = plan_until_accepted(
                model, book, replications=replications, seed=seed, max_iterations=max_passes,
                time_limit=time_limit, workers=workers, executor=pool.executor,
                target=stop.target if stop is not None else None,
                max_replications=stop.max_replications if stop is not None else 200,
            )  # fmt: skip
        except UnknownKPIError as exc:
            raise InputError(Issue(str(exc), "--precision")) from None
    for report in loop.iterations:
        said(report)
    files = [str(out), str(_write(loop.schedule, out))]
    best = next(r for r in loop.iterations if r.plan.schedule is loop.schedule)
    params = {
        "until_accepted": True, "max_passes": max_passes, "replications": replications,
        "time_limit": time_limit, "workers": workers, "seed": seed, "accepted": loop.accepted,
        "precision": f"{stop.kpi}={stop.half_width:g}" if stop is not None else None,
    }  # fmt: skip
    run_id = _record(db, no_history, model, book, best.plan, params, json_out)
    if json_out:
        emit_json(
            {
                "plant": model.name,
                "orders": len(book),
                "accepted": loop.accepted,
                "reason": loop.reason,
                "best_pass": best.iteration,
                "passes": [_pass_json(model, r) for r in loop.iterations],
                "files": files,
                "run_id": run_id,
            }
        )
        return
    table = Table(title=f"{model.name}: plan until accepted")
    for col in ("pass", "objective", "failing", "best so far", "planned late", "makespan", "changes"):
        table.add_column(col)
    for r in loop.iterations:
        table.add_row(
            str(r.iteration), r.objective, str(len(r.failing)), f"pass {r.best}",
            str(len(r.plan.late_orders)), format_duration(r.plan.makespan), str(len(r.changes)),
        )  # fmt: skip
    out_console.print(table)
    out_console.print(("accepted: " if loop.accepted else "not accepted: ") + loop.reason, highlight=False)
    out_console.print(
        f"schedule (pass {best.iteration}) written to {files[0]} and {files[1]}", highlight=False
    )


@report_errors
def replan(
    plant: Annotated[str, typer.Argument(help="Plant YAML file, or a shipped sample name.")],
    schedule: Annotated[str, typer.Option(help="The current schedule (JSON from `plantwin plan`).")],
    rush: Annotated[str, typer.Option(help="Rush orders (.csv or .json, same columns as an order book).")],
    live: Annotated[str, typer.Option(help="Live-state snapshot (JSON; see docs/planner.md).")],
    orders: Annotated[
        str | None, typer.Option(help="Order book of the current plan; default: the plant's own.")
    ] = None,
    frozen_horizon: Annotated[str, typer.Option(help="Frozen horizon from now, e.g. 2h or 7200.")] = "2h",
    change_weight: Annotated[
        float, typer.Option(help="Weight of change (shift seconds, moves) vs tardiness.")
    ] = 1.0,
    time_limit: Annotated[float, typer.Option(help="CP-SAT time limit, seconds.")] = 10.0,
    workers: Annotated[int, typer.Option(help="CP-SAT worker threads.")] = 2,
    out: Annotated[Path, typer.Option(help="New schedule JSON path (CSV beside it).")] = Path("replan.json"),
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    db: DbOption = None,
    no_history: NoHistoryOption = False,
) -> None:
    """Insert rush orders into the current schedule from the live state, changing little; report moves."""
    _check_args("tardiness", time_limit, workers)
    args.number("--change-weight", change_weight, 0, 1e6)
    try:
        horizon = parse_duration(frozen_horizon)
    except ValueError as exc:
        raise InputError(Issue(str(exc), "--frozen-horizon")) from None
    model, path, _ = open_plant(plant, warn=not json_out)
    book = open_orders(model, path, orders) or []
    current = load_schedule(schedule)
    if current.plant_hash and current.plant_hash != model.content_hash():
        err_console.print("plantwin: warning: the schedule was made for a different version of this plant")
    rush_orders = load_orders(rush, model)
    state = live_from_json(_read(live), model.epoch, live)
    result: ReplanResult = replan_core(
        model,
        current,
        book,
        rush_orders,
        state,
        frozen_horizon=horizon,
        time_limit=time_limit,
        workers=workers,
        change_weight=change_weight,
    )
    _require_schedule(result)
    files: list[str] = []
    if result.schedule.operations:
        files = [str(out), str(_write(result.schedule, out))]
    params = {
        "replan": True, "rush": [r.id for r in rush_orders], "frozen_horizon": horizon,
        "change_weight": change_weight, "time_limit": time_limit, "moved": len(result.moved),
    }  # fmt: skip
    run_id = _record(db, no_history, model, [*book, *rush_orders], result, params, json_out)
    moved = [
        {
            "order": m.order_id,
            "op_index": m.op_index,
            "kind": m.kind,
            "from": m.old_machine,
            "to": m.new_machine,
            "old_start": m.old_start,
            "new_start": m.new_start,
            "shift": m.shift,
        }
        for m in result.moved
    ]
    if json_out:
        emit_json(
            {
                "plant": model.name,
                **_summary(model, result),
                "moved": moved,
                "frozen": [list(k) for k in result.frozen],
                "added": [list(k) for k in result.added],
                "dropped": len(result.dropped),
                "files": files,
                "run_id": run_id,
            }
        )
        return
    _print_result(model, result, f"{model.name}: re-plan with {len(rush_orders)} rush order(s)")
    done = result.schedule.completion()
    for r in rush_orders:
        at = done.get(r.id)
        state_txt = (
            "not planned"
            if at is None
            else ("on time" if at <= r.due else f"late by {format_duration(at - r.due)}")
        )
        out_console.print(f"rush {r.id}: {state_txt}", highlight=False)
    machine_moves = sum(1 for m in result.moved if m.kind == "machine")
    out_console.print(
        f"{len(result.frozen)} lots frozen, {machine_moves} moved to another machine, "
        f"{len(result.moved) - machine_moves} shifted in time",
        highlight=False,
    )
    if moved:
        table = Table(title="What moved (first 20)")
        for col in ("order", "op", "kind", "from", "to", "shift"):
            table.add_column(col)
        for m in result.moved[:20]:
            table.add_row(
                m.order_id, str(m.op_index), m.kind, m.old_machine, m.new_machine, format_duration(m.shift)
            )
        out_console.print(table)
    if files:
        out_console.print(f"schedule written to {files[0]} and {files[1]}", highlight=False)
