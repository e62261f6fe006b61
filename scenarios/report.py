"""The typed result of a what-if run: baseline, variants, sweep; JSON-able through `to_dict`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from twin.schedule import Schedule
from twin.stats import Estimate

if TYPE_CHECKING:
    from scenarios.counteroffer import CounterOffer

HEADLINE_KPIS: tuple[str, ...] = (
    "throughput_per_hour", "oee", "wip_mean", "lead_time_mean", "tardiness_total", "on_time_rate",
    "makespan", "orders_completed", "units_good", "units_scrapped",
)  # fmt: skip
"""The plant-level KPIs a report shows first (the simulator's per-station KPIs follow)."""


def estimate_dict(e: Estimate) -> dict[str, float | int | None]:
    """An Estimate as JSON (NaN becomes None)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(e).items()}


@dataclass(frozen=True)
class KpiComparison:
    """One KPI: baseline and variant means, and the 95 % CI of the paired (variant - baseline) difference."""

    kpi: str
    baseline: Estimate
    variant: Estimate
    difference: Estimate
    better: str
    """'higher' or 'lower': which direction is an improvement."""

    @property
    def verdict(self) -> str:
        """'better', 'worse' or 'no significant change' (the CI of the difference excludes 0 or not)."""
        d = self.difference
        if not (math.isfinite(d.low) and math.isfinite(d.high)) or d.low <= 0 <= d.high:
            return "no significant change"
        up = d.low > 0
        return "better" if up == (self.better == "higher") else "worse"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kpi": self.kpi,
            "baseline": estimate_dict(self.baseline),
            "variant": estimate_dict(self.variant),
            "difference": estimate_dict(self.difference),
            "better": self.better,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class OrderImpact:
    """One order's on-time probability in the baseline and the variant (None: not in that book)."""

    order_id: str
    baseline: float | None
    variant: float | None
    due: float
    rush: bool = False

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.variant is None:
            return None
        return self.variant - self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


@dataclass(frozen=True)
class Move:
    """An operation the re-plan moved: other machine and/or other start than the baseline plan."""

    order_id: str
    op_index: int
    operation: str
    from_machine: str
    to_machine: str
    from_start: float
    to_start: float

    @property
    def shift(self) -> float:
        return self.to_start - self.from_start

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "shift": self.shift}


@dataclass(frozen=True)
class PlanSummary:
    """How a plan was made and what it promises."""

    mode: str
    """'solve' (CP-SAT), 'replan' (minimal disruption), 'dispatch', 'rule' (simulator's rule), 'given'."""
    status: str
    makespan: float | None
    late_orders: int | None
    objective: float | None = None
    gap: float | None = None
    seconds: float = 0.0
    schedule_hash: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckSummary:
    """The feasibility check of a plan: accepted or not, and why."""

    accepted: bool | None
    reasons: tuple[str, ...]
    replications: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunSide:
    """One side of a comparison (the baseline or a variant): plan, check, per-replication KPIs."""

    plan: PlanSummary
    check: CheckSummary
    kpis: dict[str, Estimate]
    samples: dict[str, tuple[float, ...]]
    """Per-replication values of each KPI, replication i with seed i of the common seeds."""
    on_time: dict[str, float]
    """Order id -> fraction of replications the order finished by its due time."""
    schedule: Schedule | None = None
    lateness: dict[str, float] = field(default_factory=dict)
    """Order id -> mean lateness over the replications (seconds; only where a schedule was checked)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "check": self.check.to_dict(),
            "kpis": {k: estimate_dict(v) for k, v in self.kpis.items()},
            "samples": {k: list(v) for k, v in self.samples.items()},
            "on_time": self.on_time,
            "lateness": self.lateness,
        }


@dataclass(frozen=True)
class VariantReport:
    """A variant compared with the baseline."""

    name: str
    description: str
    changes: tuple[dict[str, Any], ...]
    side: RunSide
    comparison: tuple[KpiComparison, ...]
    orders: tuple[OrderImpact, ...]
    """Existing orders, worst change of on-time probability first (the collateral damage)."""
    rush: tuple[OrderImpact, ...]
    moved: tuple[Move, ...]
    """Operations the re-plan moved, largest shift first."""
    fits: bool | None
    """Rush variants: every rush order reaches the policy's on-time level and no existing order that
    reached it in the baseline falls below it. None for variants without rush orders."""
    infeasible: str | None = None
    """Why no plan exists for the variant (the planner's reason), if none does."""
    counter_offer: CounterOffer | None = None
    """For a refused rush variant: the earliest acceptable due date, or what keeping the date costs."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "changes": list(self.changes),
            **self.side.to_dict(),
            "comparison": [c.to_dict() for c in self.comparison],
            "orders": [o.to_dict() for o in self.orders],
            "rush": [o.to_dict() for o in self.rush],
            "moved": [m.to_dict() for m in self.moved],
            "moved_count": len(self.moved),
            "fits": self.fits,
            "infeasible": self.infeasible,
            "counter_offer": self.counter_offer.to_dict() if self.counter_offer is not None else None,
        }


@dataclass(frozen=True)
class SweepPoint:
    """One grid point of a sweep: parameter values, KPI estimates, and the objective's value."""

    values: dict[str, Any]
    kpis: dict[str, Estimate]
    samples: dict[str, tuple[float, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": self.values,
            "kpis": {k: estimate_dict(v) for k, v in self.kpis.items()},
            "samples": {k: list(v) for k, v in self.samples.items()},
        }


@dataclass(frozen=True)
class SweepReport:
    """A sweep: every point with the same seeds, and the best point under the objective."""

    parameters: tuple[str, ...]
    objective: str
    goal: str
    points: tuple[SweepPoint, ...]
    best: int | None
    """Index of the best point (None when the objective KPI is missing everywhere)."""
    executor: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameters": list(self.parameters),
            "objective": {"kpi": self.objective, "goal": self.goal},
            "points": [p.to_dict() for p in self.points],
            "best": self.best,
            "best_values": self.points[self.best].values if self.best is not None else None,
            "executor": self.executor,
        }


@dataclass(frozen=True)
class ScenarioReport:
    """Everything a what-if run found; `to_dict()` is the `--json` object."""

    scenario: str
    description: str
    source: str
    plant: str
    plant_hash: str
    seed: int
    replications: int
    seeds: tuple[int, ...]
    """Replication indices i: replication i of every side draws from the streams named
    (seed, i, purpose), so the sides share their random numbers."""
    baseline: RunSide
    variants: tuple[VariantReport, ...] = ()
    sweep: SweepReport | None = None
    expect: str | None = None
    expect_met: bool | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "description": self.description,
            "source": self.source,
            "plant": self.plant,
            "plant_hash": self.plant_hash,
            "seed": self.seed,
            "replications": self.replications,
            "seeds": list(self.seeds),
            "baseline": self.baseline.to_dict(),
            "variants": [v.to_dict() for v in self.variants],
            # The first refused rush variant's counter-offer, for scripts that ask one question.
            "counter_offer": next(
                (v.counter_offer.to_dict() for v in self.variants if v.counter_offer is not None), None
            ),
            "sweep": self.sweep.to_dict() if self.sweep is not None else None,
            "expect": self.expect,
            "expect_met": self.expect_met,
            "seconds": self.seconds,
            "notes": list(self.notes),
            "run_id": self.run_id,
        }


def kpi_unit(kpi: str) -> str:
    """The unit of a simulator KPI, for tables ('s', 'units/h', '' for ratios and counts)."""
    if kpi in ("makespan", "lead_time_mean", "tardiness_total"):
        return "s"
    if kpi.startswith("throughput"):
        return "units/h"
    if kpi == "orders_per_hour":
        return "orders/h"
    if kpi.startswith(("units_", "orders_")):
        return "units" if kpi.startswith("units_") else "orders"
    if kpi == "wip_mean":
        return "orders"
    return ""


def comparison_frame(variant: VariantReport) -> pd.DataFrame:
    """The KPI comparison as a table: kpi, unit, baseline, variant, difference, ci_low, ci_high
    (ci_* the 95 % CI of the paired difference), headline KPIs first."""
    rows = sorted(
        variant.comparison,
        key=lambda c: (HEADLINE_KPIS.index(c.kpi) if c.kpi in HEADLINE_KPIS else len(HEADLINE_KPIS), c.kpi),
    )
    return pd.DataFrame(
        {
            "kpi": [c.kpi for c in rows],
            "unit": [kpi_unit(c.kpi) for c in rows],
            "baseline": [c.baseline.mean for c in rows],
            "variant": [c.variant.mean for c in rows],
            "difference": [c.difference.mean for c in rows],
            "ci_low": [c.difference.low for c in rows],
            "ci_high": [c.difference.high for c in rows],
        }
    )


def order_changes_frame(variant: VariantReport) -> pd.DataFrame:
    """On-time probabilities per order: order_id, baseline, variant, change, rush (rush orders
    first, then existing orders worst change first)."""
    rows = [*variant.rush, *variant.orders]
    return pd.DataFrame(
        {
            "order_id": [o.order_id for o in rows],
            "baseline": [o.baseline for o in rows],
            "variant": [o.variant for o in rows],
            "change": [o.change for o in rows],
            "rush": [o.rush for o in rows],
        }
    )
