"""The what-if runner: baseline, each variant re-planned, checked and simulated with the same seeds.

1. baseline: plan (or take the given schedule), check, simulate N replications;
2. each variant: changes applied (at load), re-planned (a rush order: the planner's
   minimal-disruption re-plan from the baseline plan; otherwise a fresh solve
   warm-started from the baseline plan), checked, simulated with the baseline's seed,
   so replication i of both sides shares its random streams (common random numbers);
3. the report: per KPI baseline / variant / paired difference with its 95 % CI,
   per-order on-time changes (collateral damage, worst first), the verdict, what moved.
A sweep evaluates every grid point on an executor with the same seed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from scenarios.changes import apply_changes
from scenarios.compare import compare_kpis, moved_operations, order_impacts
from scenarios.counteroffer import CounterOffer, counter_offer, slips
from scenarios.engine import Engine, PlanOutcome, SimOutcome, TwinEngine
from scenarios.files import LoadedScenario, PreparedVariant
from scenarios.model import Change, Judge, PlannerSettings, Sweep
from scenarios.report import (
    CheckSummary,
    PlanSummary,
    RunSide,
    ScenarioReport,
    SweepPoint,
    SweepReport,
    VariantReport,
)
from twin.errors import InfeasibleError
from twin.kpi import KPIS, KpiRegistry
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule
from twin.stats import estimate_kpi
from twin.timeutil import parse_duration
from twin.verdict import AcceptancePolicy, Verdict

Progress = Callable[[str, int, int], None]
"""Progress callback: (what is happening, steps done, steps in all)."""


def _policy(judge: Judge) -> AcceptancePolicy:
    return AcceptancePolicy(min_on_time=judge.policy.min_on_time, service_level=judge.policy.service_level)


def _check_summary(verdict: Verdict | None, replications: int, mode: str) -> CheckSummary:
    if verdict is None:
        return CheckSummary(
            None, (f"no schedule to check ({mode} mode: the simulator dispatches)",), replications
        )
    return CheckSummary(verdict.accepted, tuple(verdict.reasons), verdict.replications)


def evaluate(
    engine: Engine,
    plant: Plant,
    orders: Sequence[Order],
    plan: PlanOutcome,
    *,
    settings: PlannerSettings,
    until: float | None,
    replications: int,
    seed: int,
    policy: AcceptancePolicy,
    executor: Executor | None = None,
    live: LiveState | None = None,
    on_replication: Callable[[int, int], None] | None = None,
) -> RunSide:
    """Simulate one plan with `seed` and check it (when there is a schedule): one side of a comparison."""
    sim = engine.simulate(
        plant, orders, plan.schedule, rule=settings.rule, until=until, replications=replications,
        seed=seed, policy=policy, executor=executor, live=live, progress=on_replication,
    )  # fmt: skip
    verdict = sim.verdict
    on_time = (
        {o.order_id: o.on_time_probability for o in verdict.orders} if verdict is not None else sim.on_time
    )
    lateness = {o.order_id: o.mean_lateness for o in verdict.orders} if verdict is not None else {}
    return RunSide(
        plan=plan.summary,
        check=_check_summary(verdict, replications, plan.summary.mode),
        kpis={k: estimate_kpi(k, v) for k, v in sim.samples.items()},
        samples=sim.samples,
        on_time=on_time,
        schedule=plan.schedule,
        lateness=lateness,
        verdict=verdict,
        plant=plant,
        orders=tuple(orders),
    )


def _variant_plan(
    engine: Engine,
    loaded: LoadedScenario,
    variant: PreparedVariant,
    base_plan: PlanOutcome,
    settings: PlannerSettings,
    seed: int,
    live: LiveState | None,
) -> PlanOutcome:
    """A rush order alone: minimal-disruption re-plan; anything else: solve warm-started by the baseline."""
    if base_plan.schedule is None or settings.mode == "rule":
        return engine.plan(variant.plant, variant.orders, settings, seed=seed, hint=None, live=live)
    if _only_orders_added(loaded, variant) and settings.mode == "solve":
        rush = [o for o in variant.orders if o.id in variant.rush]
        now = live if live is not None else LiveState.empty(loaded.now)
        return engine.replan(variant.plant, base_plan.schedule, variant.orders, rush, now, settings)
    hint = None if settings.mode != "solve" else base_plan.schedule
    return engine.plan(variant.plant, variant.orders, settings, seed=seed, hint=hint, live=live)


def _only_orders_added(loaded: LoadedScenario, variant: PreparedVariant) -> bool:
    """A pure rush variant: the base plant and book, plus new orders."""
    return bool(
        variant.rush
        and variant.plant.content_hash() == loaded.plant.content_hash()
        and {o.id for o in variant.orders} >= {o.id for o in loaded.orders}
    )


def _counter_offer(
    engine: Engine,
    loaded: LoadedScenario,
    variant: PreparedVariant,
    refused: VariantReport,
    base_plan: PlanOutcome,
    baseline: RunSide,
    *,
    settings: PlannerSettings,
    policy: AcceptancePolicy,
    replications: int,
    seed: int,
    executor: Executor | None,
    live: LiveState | None,
) -> CounterOffer:
    """The earliest due time the same check accepts (rush orders' due times moved together), and
    the orders that slip if the asked date is kept."""
    asked = {o.id: o.due for o in variant.orders if o.id in variant.rush}

    def accepted_with(delay: float) -> bool:
        orders = tuple(
            dataclasses.replace(o, due=o.due + delay) if o.id in asked else o for o in variant.orders
        )
        moved = dataclasses.replace(variant, orders=orders)
        plan = _variant_plan(engine, loaded, moved, base_plan, settings, seed, live)
        side = evaluate(
            engine, moved.plant, moved.orders, plan, settings=settings, until=loaded.until,
            replications=replications, seed=seed, policy=policy, executor=executor, live=live,
        )  # fmt: skip
        return _variant_report(moved, baseline, side, policy).fits is True

    rush_lateness = [refused.side.lateness.get(oid, 0.0) for oid in asked]
    keep = slips(refused.orders, baseline.lateness, refused.side.lateness, policy.min_on_time)
    search = loaded.scenario.judge.counter_offer
    return counter_offer(
        accepted_with, asked, keep, first_guess=max(rush_lateness, default=0.0),
        resolution=parse_duration(search.resolution), max_delay=parse_duration(search.max_delay),
    )  # fmt: skip


def run_scenario(
    loaded: LoadedScenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    engine: Engine | None = None,
    executor: Executor | None = None,
    executor_name: str = "inline",
    progress: Progress | None = None,
    live: LiveState | None = None,
    counter_offers: bool | None = None,
    kpis: KpiRegistry = KPIS,
) -> ScenarioReport:
    """Run a loaded scenario: baseline, every variant, the sweep; a typed, JSON-able report.

    `kpis`: the KPI registry the simulations report and the comparison reads its directions
    from (the default engine simulates with it; a given engine brings its own KPIs).

    `replications`/`seed` override the file's judge settings. `executor` runs sweep points
    and replications (None: the simulator's own local pool). `live`: start from the floor's
    state instead of an empty plant (plans and simulations warm-start from it; rush orders are
    re-planned from it, so finished work stays finished and running work stays where it is).
    `counter_offers` (default: the file's `judge.counter_offer.enabled`): a refused rush variant
    gets a counter-offer (a search of re-plans and checks: the earliest acceptable due date,
    and what keeping the asked date costs).

    Raises:
        InputError, InfeasibleError: from the planner or simulator (bad data, no schedule).
    """
    started = time.perf_counter()
    scn = loaded.scenario
    judge = scn.judge
    n = replications if replications is not None else judge.replications
    s = seed if seed is not None else judge.seed
    policy = _policy(judge)
    settings = judge.planner
    engine = engine if engine is not None else TwinEngine(kpis=kpis)
    # Steps: every replication of the baseline and of each variant, and every sweep point.
    total = n * (1 + len(loaded.variants)) + len(loaded.sweep_points)
    done = 0

    def tick(what: str) -> None:
        if progress is not None:
            progress(what, done, total)

    def replications_of(name: str) -> Callable[[int, int], None]:
        start = done

        def update(k: int, planned: int) -> None:
            if progress is not None:
                progress(f"{name}: replication {k} of {planned}", start + min(k, n), total)

        return update

    notes: list[str] = []
    if loaded.until is None:
        notes.append(
            "base.until is not set: every replication runs until its work is done, so completion KPIs "
            "(makespan, lead time, tardiness, on-time rate) compare directly; window KPIs "
            "(throughput_per_hour, oee, wip_mean) are over the simulator's own window - set base.until "
            "to compare those"
        )
    tick("baseline: planning")
    if loaded.schedule is not None:
        base_plan = PlanOutcome(
            loaded.schedule,
            PlanSummary("given", "given", loaded.schedule.makespan, None,
                        schedule_hash=loaded.schedule.content_hash()),
        )  # fmt: skip
    else:
        base_settings = settings.model_copy(update={"mode": settings.baseline or settings.mode})
        base_plan = engine.plan(loaded.plant, loaded.orders, base_settings, seed=s, hint=None, live=live)
    tick("baseline: checking and simulating")
    baseline = evaluate(
        engine, loaded.plant, loaded.orders, base_plan, settings=settings, until=loaded.until,
        replications=n, seed=s, policy=policy, executor=executor, live=live,
        on_replication=replications_of("baseline"),
    )  # fmt: skip
    done += n
    variants = []
    for variant in loaded.variants:
        tick(f"{variant.name}: re-planning")
        try:
            plan = _variant_plan(engine, loaded, variant, base_plan, settings, s, live)
        except InfeasibleError as exc:
            # No plan exists for the variant: that is the answer, not a failure of the run.
            variants.append(_infeasible_report(variant, baseline, str(exc), n))
            done += n
            continue
        tick(f"{variant.name}: checking and simulating")
        side = evaluate(
            engine, variant.plant, variant.orders, plan, settings=settings, until=loaded.until,
            replications=n, seed=s, policy=policy, executor=executor, live=live,
            on_replication=replications_of(variant.name),
        )  # fmt: skip
        report = _variant_report(variant, baseline, side, policy, kpis)
        wanted = judge.counter_offer.enabled if counter_offers is None else counter_offers
        if wanted and report.fits is False and _only_orders_added(loaded, variant):
            tick(f"{variant.name}: refused, searching a counter-offer")
            offer = _counter_offer(
                engine, loaded, variant, report, base_plan, baseline, settings=settings, policy=policy,
                replications=n, seed=s, executor=executor, live=live,
            )  # fmt: skip
            report = dataclasses.replace(report, counter_offer=offer)
        variants.append(report)
        done += n
    sweep = None
    if scn.sweep is not None:
        if settings.mode == "solve":
            notes.append(
                f"sweep points are dispatched by the simulator's {settings.rule} rule, "
                "not re-solved with CP-SAT"
            )

        def point_done(k: int) -> None:
            nonlocal done
            done += 1
            tick(f"sweep: {k} of {len(loaded.sweep_points)} points")

        sweep = run_sweep(
            engine, loaded.plant, loaded.orders, scn.sweep, loaded.sweep_points,
            now=loaded.now, settings=settings, until=loaded.until, replications=n, seed=s,
            executor=executor, executor_name=executor_name, on_point=point_done,
        )  # fmt: skip
    expect_met = None
    if scn.expect is not None and variants:
        fits = [v.fits for v in variants]
        expect_met = all(f is True for f in fits) if scn.expect == "fits" else any(f is False for f in fits)
    tick("done")
    return ScenarioReport(
        scenario=scn.name,
        description=scn.description,
        source=loaded.source,
        plant=loaded.plant.name,
        plant_hash=loaded.plant.content_hash(),
        seed=s,
        replications=n,
        seeds=tuple(range(n)),
        baseline=baseline,
        variants=tuple(variants),
        sweep=sweep,
        expect=scn.expect,
        expect_met=expect_met,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


def _variant_report(
    variant: PreparedVariant,
    baseline: RunSide,
    side: RunSide,
    policy: AcceptancePolicy,
    kpis: KpiRegistry = KPIS,
) -> VariantReport:
    existing, rush = order_impacts(baseline.on_time, side.on_time, variant.orders, variant.rush)
    moved = (
        moved_operations(baseline.schedule, side.schedule)
        if baseline.schedule is not None and side.schedule is not None
        else []
    )
    fits = None
    if rush:
        # A rush order fits when it reaches the policy's on-time level and no existing order that
        # reached it in the baseline falls below it (the check of the whole plan is reported apart:
        # the baseline itself may already fail it).
        level = policy.min_on_time
        rush_ok = all(r.variant is not None and r.variant >= level for r in rush)
        broken = [o for o in existing if (o.baseline or 0.0) >= level and (o.variant or 0.0) < level]
        fits = rush_ok and not broken
    return VariantReport(
        name=variant.name,
        description=variant.description,
        changes=tuple(c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in variant.changes),
        side=side,
        comparison=tuple(compare_kpis(baseline.samples, side.samples, kpis)),
        orders=tuple(existing),
        rush=tuple(rush),
        moved=tuple(moved),
        fits=fits,
    )


def _infeasible_report(variant: PreparedVariant, baseline: RunSide, reason: str, n: int) -> VariantReport:
    side = RunSide(
        plan=PlanSummary("none", "infeasible", None, None, note=reason),
        check=CheckSummary(False, (f"no plan exists: {reason}",), n),
        kpis={},
        samples={},
        on_time={},
    )
    existing, rush = order_impacts(baseline.on_time, {}, variant.orders, variant.rush)
    return VariantReport(
        name=variant.name,
        description=variant.description,
        changes=tuple(c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in variant.changes),
        side=side,
        comparison=(),
        orders=tuple(existing),
        rush=tuple(rush),
        moved=(),
        fits=False,
        infeasible=reason,
    )


# ---------------------------------------------------------------- sweeps
def evaluate_point(
    engine: Engine,
    plant: Plant,
    orders: Sequence[Order],
    changes: Sequence[Change],
    *,
    now: float,
    settings: PlannerSettings,
    until: float | None,
    replications: int,
    seed: int,
) -> SimOutcome:
    """One sweep point, self-contained so it can run in a worker process or on a Dask worker."""
    new_plant, new_orders = apply_changes(plant, orders, changes, now=now)
    policy = AcceptancePolicy()
    schedule: Schedule | None = None
    if settings.mode == "dispatch":
        schedule = engine.plan(new_plant, new_orders, settings, seed=seed, hint=None).schedule
    return engine.simulate(
        new_plant, new_orders, schedule, rule=settings.rule, until=until, replications=replications,
        seed=seed, policy=policy, serial=True,
    )  # fmt: skip


def run_sweep(
    engine: Engine,
    plant: Plant,
    orders: Sequence[Order],
    sweep: Sweep,
    points: Sequence[tuple[dict[str, Any], tuple[Change, ...]]],
    *,
    now: float,
    settings: PlannerSettings,
    until: float | None,
    replications: int,
    seed: int,
    executor: Executor | None = None,
    executor_name: str = "inline",
    on_point: Callable[[int], None] | None = None,
) -> SweepReport:
    """Every grid point simulated with the same seed (on `executor` if given); the best point by objective."""
    kwargs = dict(now=now, settings=settings, until=until, replications=replications, seed=seed)
    outcomes: list[SimOutcome] = []
    if executor is None:
        for k, (_, changes) in enumerate(points):
            outcomes.append(evaluate_point(engine, plant, list(orders), changes, **kwargs))  # type: ignore[arg-type]
            if on_point is not None:
                on_point(k + 1)
    else:
        futures: list[Future[SimOutcome]] = [
            executor.submit(evaluate_point, engine, plant, list(orders), changes, **kwargs)
            for _, changes in points
        ]
        for k, fut in enumerate(futures):
            outcomes.append(fut.result())
            if on_point is not None:
                on_point(k + 1)
    results = tuple(
        SweepPoint(values, {k: estimate_kpi(k, v) for k, v in out.samples.items()}, out.samples)
        for (values, _), out in zip(points, outcomes, strict=True)
    )
    kpi, goal = sweep.objective.kpi, sweep.objective.goal
    scored = [(p.kpis[kpi].mean, k) for k, p in enumerate(results) if kpi in p.kpis]
    best = None
    if scored:
        # Ties go to the first point in grid order (the cheapest, when values are listed ascending).
        best = (max if goal == "max" else min)(
            scored, key=lambda t: (t[0], -t[1]) if goal == "max" else (t[0], t[1])
        )[1]
    return SweepReport(
        parameters=tuple(p.name for p in sweep.parameters),
        objective=kpi,
        goal=goal,
        points=results,
        best=best,
        executor=executor_name,
    )
