"""The feasibility check of a schedule: replications of it, judged per order under a policy."""

from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Sequence

from sim.run import Progress, Replications, replicate
from twin.fit import misfit_summary, misfits
from twin.live import LiveState
from twin.orders import Order, book_hash
from twin.plant import Plant
from twin.schedule import Schedule
from twin.stats import wilson_interval
from twin.timeutil import format_duration
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict

OVERLOADED = 0.85
"""A station is reported overloaded when busy (producing or in setup) this share of its planned busy time."""
STARVED = 0.10
"""A station is reported starved when it waits for upstream lots or material this share of it."""
MAX_REASONS = 8


def check(
    plant: Plant,
    orders: Sequence[Order],
    schedule: Schedule,
    *,
    replications: int = 30,
    seed: int = 0,
    policy: AcceptancePolicy = AcceptancePolicy(),
    live: LiveState | None = None,
    executor: cf.Executor | None = None,
    progress: Progress | None = None,
    target: tuple[str, float] | None = None,
    max_replications: int = 200,
) -> Verdict:
    """Run the schedule `replications` times (to completion) and judge it under `policy`.

    With `target=(kpi, half_width)` the replications go on until that KPI's 95% CI half-width
    is reached or `max_replications` ran (see `replicate`); the verdict says how many ran.

    Raises:
        ValueError: a plan that does not fit the plant or the order book (`twin.fit.misfits`).
    """
    found = misfits(schedule, plant, orders)
    if found:
        raise ValueError(misfit_summary(found, plant))
    reps = replicate(
        plant,
        orders,
        schedule=schedule,
        replications=replications,
        seed=seed,
        live=live,
        executor=executor,
        progress=progress,
        target=target,
        max_replications=max_replications,
    )
    return judge(reps, orders, schedule, policy, plant=plant)


def judge(
    reps: Replications,
    orders: Sequence[Order],
    schedule: Schedule,
    policy: AcceptancePolicy,
    *,
    plant: Plant,
) -> Verdict:
    """The verdict on replications of a schedule on `plant` with `orders` (the pure part of
    `check`); it names the schedule, plant and order book by content hash."""
    n = reps.n
    planned = schedule.completion()
    ends = dict(enumerate(reps.ends))
    by_order = {oid: g for oid, g in reps.orders.groupby("order_id", sort=False)}
    delays = (reps.delays.groupby(["order_id", "cause"])["seconds"].sum() / n).to_dict()
    delay_of: dict[str, dict[str, float]] = {}
    for (oid, cause), seconds in delays.items():
        delay_of.setdefault(str(oid), {})[str(cause)] = float(seconds)

    verdicts: list[OrderVerdict] = []
    for order in orders:
        g = by_order.get(order.id)
        if g is None:
            continue  # finished before the warm start: nothing to judge
        on_time = int(g["on_time"].sum())
        done = g["completion"].dropna()
        lateness = [
            max(0.0, (c if not math.isnan(c) else ends.get(int(r), c)) - order.due)
            for r, c in zip(g["replication"], g["completion"], strict=True)
        ]
        low, high = wilson_interval(on_time, len(g))
        verdicts.append(
            OrderVerdict(
                order_id=order.id,
                due=order.due,
                planned_completion=planned.get(order.id),
                on_time_probability=on_time / len(g),
                ci_low=low,
                ci_high=high,
                mean_completion=float(done.mean()) if len(done) else math.nan,
                mean_lateness=sum(lateness) / len(lateness),
                delay=dict(sorted(delay_of.get(order.id, {}).items())),
            )
        )

    stations = sorted({k.split(".", 1)[1] for k in reps.kpis if k.startswith("utilisation.")})
    utilisation = {s: reps.kpis[f"utilisation.{s}"].mean for s in stations}
    overloaded = tuple(s for s in stations if utilisation[s] >= OVERLOADED)
    starved = tuple(
        s for s in stations if f"starved.{s}" in reps.kpis and reps.kpis[f"starved.{s}"].mean >= STARVED
    )
    reasons: list[str] = []
    failing = sorted(
        (v for v in verdicts if v.on_time_probability < policy.min_on_time),
        key=lambda v: v.on_time_probability,
    )
    for v in failing[:MAX_REASONS]:
        reasons.append(_order_reason(v, n))
    if len(failing) > MAX_REASONS:
        reasons.append(
            f"... and {len(failing) - MAX_REASONS} more orders below {policy.min_on_time:.0%} on time"
        )
    service = reps.kpis["on_time_rate"].mean if "on_time_rate" in reps.kpis else math.nan
    if policy.service_level is not None and not service >= policy.service_level:
        reasons.append(
            f"on average {service:.0%} of the orders are on time, below the service level of "
            f"{policy.service_level:.0%}"
        )
    accepted = not reasons
    if failing and overloaded:
        reasons.append("overloaded: " + ", ".join(f"{s} busy {utilisation[s]:.0%}" for s in overloaded))
    if accepted:
        reasons.append(
            f"every order is on time in at least {policy.min_on_time:.0%} of {n} runs"
            + (f"; {service:.0%} of orders on time on average" if not math.isnan(service) else "")
        )
    return Verdict(
        schedule_hash=schedule.content_hash(),
        accepted=accepted,
        reasons=tuple(reasons),
        orders=tuple(verdicts),
        makespans=tuple(reps.values("makespan")),
        replications=n,
        seed=reps.seed,
        policy=policy,
        station_utilisation=utilisation,
        overloaded=overloaded,
        starved=starved,
        plant_hash=plant.content_hash(),
        orders_hash=book_hash(orders),
    )


def _order_reason(v: OrderVerdict, n: int) -> str:
    """'order X is on time in only 12 of 30 runs (...); late by 2h on average, ... waiting at cnc1 (1h)'."""
    k = round(v.on_time_probability * n)
    text = (
        f"order {v.order_id} is on time in only {k} of {n} runs ({v.on_time_probability:.0%}, "
        f"95% CI {v.ci_low:.0%}-{v.ci_high:.0%})"
    )
    if v.mean_lateness > 0:
        text += f"; late by {format_duration(v.mean_lateness)} on average"
    causes = sorted(((c, s) for c, s in v.delay.items() if c != "processing" and s > 0), key=lambda x: -x[1])
    if causes:
        words = [f"{_cause_words(c)} ({format_duration(s)})" for c, s in causes[:3]]
        text += ", its time lost mostly to " + ", ".join(words)
    return text


def _cause_words(cause: str) -> str:
    if cause.startswith("queue:"):
        return f"waiting at {cause.split(':', 1)[1]}"
    return {
        "setup": "setups",
        "breakdown": "breakdowns",
        "off-shift": "off-shift time",
        "maintenance": "maintenance",
        "blocked": "blocking (no room downstream)",
        "material": "waiting for material",
        "resource": "waiting for operators/tools",
    }.get(cause, cause)
