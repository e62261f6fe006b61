"""Capable-to-promise under variability: the earliest due time a new order can be promised with a confidence.

For a candidate due time d the new order is added to the book, the plan is re-made
(the planner's minimal-disruption re-plan from the current plan, or a dispatch-rule
plan), and the plan is simulated; d is *promisable* when the order is on time in at
least `confidence` of the replications. The search starts at a lower bound (the
order's own work, done back to back in working time from `now`), finds a promisable
upper bound by doubling, then bisects down to `resolution`. Every candidate tried is
kept as evidence; the answer is always a candidate that was simulated and passed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from typing import Any

from scenarios.engine import Engine, PlanOutcome, TwinEngine
from scenarios.model import PlannerSettings
from scenarios.search import earliest_passing
from twin.errors import InputError, Issue
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.stats import wilson_interval
from twin.verdict import AcceptancePolicy

PROMISE_ID = "PROMISE"


@dataclass(frozen=True)
class Candidate:
    """One due time tried: the new order's on-time probability there (with its Wilson interval)."""

    due: float
    on_time: float
    ci_low: float
    ci_high: float
    planned_completion: float | None
    promisable: bool
    collateral: tuple[str, ...] = ()
    """Existing orders that meet the policy in the plan without the new order but not with it."""


@dataclass(frozen=True)
class PromiseResult:
    """The earliest promisable due time (None: none within the horizon) and the evidence."""

    product: str
    quantity: int
    confidence: float
    now: float
    promise: float | None
    lower_bound: float
    resolution: float
    replications: int
    seed: int
    candidates: tuple[Candidate, ...]
    mode: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def evidence(self) -> Candidate | None:
        """The simulated candidate at the promised time."""
        return next((c for c in self.candidates if c.due == self.promise), None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["candidates"] = sorted(out["candidates"], key=lambda c: c["due"])
        out["evidence"] = asdict(self.evidence) if self.evidence is not None else None
        return out


def lower_bound(plant: Plant, product: str, quantity: int, now: float) -> float:
    """The order's own expected work, back to back from `now` in the first station's working time."""
    routing = plant.product_map[product].routing
    work = sum(op.mean_time(quantity) for op in routing)
    horizon = now + max(work * 20, 30 * 86400.0)
    wt = plant.working_time(routing[0].stations[0], horizon)
    done = wt.finish(now, work)
    return done if math.isfinite(done) else now + work


def promise(
    plant: Plant,
    orders: Sequence[Order],
    product: str,
    quantity: int,
    *,
    confidence: float = 0.9,
    now: float = 0.0,
    replications: int = 10,
    seed: int = 0,
    settings: PlannerSettings | None = None,
    resolution: float = 900.0,
    horizon: float = 28 * 86400.0,
    policy: AcceptancePolicy | None = None,
    engine: Engine | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    live: LiveState | None = None,
    executor: Executor | None = None,
) -> PromiseResult:
    """The earliest due time (plant seconds) that `quantity` of `product` can be promised at.

    `live`: plan and simulate from the floor's live state (then `now` is at least its time).
    Every candidate's replications run on `executor` (None: the simulator's own local pool).

    Raises:
        InputError: unknown product, a quantity below 1, a confidence outside (0, 1].
    """
    if product not in plant.product_map:
        known = ", ".join(sorted(plant.product_map))
        raise InputError(Issue(f"unknown product {product!r} (known: {known})", "<promise>", None, "product"))
    if quantity < 1:
        raise InputError(Issue("quantity must be at least 1", "<promise>", None, "quantity"))
    if not 0 < confidence <= 1:
        raise InputError(Issue("confidence must be in (0, 1]", "<promise>", None, "confidence"))
    if any(o.id == PROMISE_ID for o in orders):
        raise InputError(Issue(f"the order book already has an order {PROMISE_ID!r}", "<promise>"))
    settings = settings or PlannerSettings(time_limit=5.0)
    policy = policy or AcceptancePolicy()
    if live is not None:
        now = max(now, live.time)
    engine = engine if engine is not None else TwinEngine()
    book = list(orders)
    steps = [0]
    expected_steps = 3 + math.ceil(math.log2(max(2.0, horizon / resolution)))

    def tick(what: str) -> None:
        if progress is not None:
            progress(what, steps[0], expected_steps)

    tick("planning the current book")
    base = engine.plan(plant, book, settings, seed=seed, hint=None, live=live)
    base_on_time = _on_time(engine, plant, book, base, settings, replications, seed, policy, live, executor)
    base_ok = {oid for oid, p in base_on_time.items() if p >= policy.min_on_time}
    tried: dict[float, Candidate] = {}

    def evaluate(due: float) -> Candidate:
        due = float(math.ceil(due))
        if due in tried:
            return tried[due]
        steps[0] += 1
        tick(f"simulating due {due / 3600:.1f} h")
        new = Order(PROMISE_ID, product, quantity, release=now, due=due, weight=1.0)
        full = [*book, new]
        if base.schedule is not None and settings.mode == "solve":
            now_state = live if live is not None else LiveState.empty(now)
            plan = engine.replan(plant, base.schedule, full, [new], now_state, settings)
        else:
            plan = engine.plan(plant, full, settings, seed=seed, hint=None, live=live)
        on_time = _on_time(engine, plant, full, plan, settings, replications, seed, policy, live, executor)
        p = on_time.get(PROMISE_ID, 0.0)
        low, high = wilson_interval(round(p * replications), replications)
        planned = plan.schedule.completion().get(PROMISE_ID) if plan.schedule is not None else None
        hurt = tuple(sorted(oid for oid in base_ok if on_time.get(oid, 0.0) < policy.min_on_time))
        cand = Candidate(due, p, low, high, planned, p >= confidence, hurt)
        tried[due] = cand
        return cand

    lo = float(math.ceil(lower_bound(plant, product, quantity, now)))
    first = evaluate(lo)
    guess = max(lo, first.planned_completion or lo)
    answer, notes = earliest_passing(
        lambda due: evaluate(due).promisable,
        lo,
        now=now,
        first_try=now + max(2 * (guess - now), resolution),
        resolution=resolution,
        horizon=horizon,
        what=f"{confidence:.0%} on time",
    )
    if (
        answer is not None
        and any(c.promisable and c.due > answer for c in tried.values())
        and not all(c.promisable for c in tried.values() if c.due >= answer)
    ):
        notes.append("the on-time probability is not monotone in the due time here (see the evidence)")
    return _result(
        product, quantity, confidence, now, answer, lo, resolution, replications, seed, tried, settings, notes
    )


def _on_time(
    engine: Engine,
    plant: Plant,
    orders: Sequence[Order],
    plan: PlanOutcome,
    settings: PlannerSettings,
    replications: int,
    seed: int,
    policy: AcceptancePolicy,
    live: LiveState | None = None,
    executor: Executor | None = None,
) -> dict[str, float]:
    out = engine.simulate(
        plant, orders, plan.schedule, rule=settings.rule, until=None, replications=replications, seed=seed,
        policy=policy, live=live, executor=executor,
    )  # fmt: skip
    if out.verdict is not None:
        return {o.order_id: o.on_time_probability for o in out.verdict.orders}
    return out.on_time


def _result(
    product: str,
    quantity: int,
    confidence: float,
    now: float,
    answer: float | None,
    lo: float,
    resolution: float,
    replications: int,
    seed: int,
    tried: dict[float, Candidate],
    settings: PlannerSettings,
    notes: list[str],
) -> PromiseResult:
    return PromiseResult(
        product=product,
        quantity=quantity,
        confidence=confidence,
        now=now,
        promise=answer,
        lower_bound=lo,
        resolution=resolution,
        replications=replications,
        seed=seed,
        candidates=tuple(tried.values()),
        mode=settings.mode,
        notes=tuple(notes),
    )
