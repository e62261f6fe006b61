"""Comparing a variant with the baseline: paired KPI differences, on-time changes, moved operations.

Both sides are simulated with the same seeds (common random numbers), so
replication i of the variant and replication i of the baseline share their
random streams; the CI of the mean of the per-replication differences is then
much narrower than the two separate CIs suggest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scenarios.report import KpiComparison, Move, OrderImpact
from twin.kpi import KPIS, KpiRegistry
from twin.orders import Order
from twin.schedule import Schedule
from twin.stats import Estimate, estimate_kpi, mean_ci


def paired(baseline: Sequence[float], variant: Sequence[float]) -> Estimate:
    """Mean and 95 % CI of the per-replication differences variant - baseline.

    Raises:
        ValueError: the two sides have different numbers of replications (they are not paired).
    """
    if len(baseline) != len(variant):
        raise ValueError(f"not paired: {len(baseline)} baseline vs {len(variant)} variant replications")
    return mean_ci([v - b for b, v in zip(baseline, variant, strict=True)])


def compare_kpis(
    baseline: Mapping[str, Sequence[float]],
    variant: Mapping[str, Sequence[float]],
    kpis: KpiRegistry = KPIS,
) -> list[KpiComparison]:
    """A row per KPI both sides report, in the baseline's order; which way is better comes from
    the registry `kpis` ('' for a key it does not hold: then no side is called better)."""
    rows = []
    for kpi, base in baseline.items():
        var = variant.get(kpi)
        if var is None:
            continue
        better = kpis.better(kpi) or ""
        rows.append(
            KpiComparison(kpi, estimate_kpi(kpi, base), estimate_kpi(kpi, var), paired(base, var), better)
        )
    return rows


def order_impacts(
    baseline: Mapping[str, float],
    variant: Mapping[str, float],
    orders: Sequence[Order],
    rush: Sequence[str],
) -> tuple[list[OrderImpact], list[OrderImpact]]:
    """(existing orders worst change first, rush orders) from per-order on-time probabilities."""
    existing, added = [], []
    for o in orders:
        impact = OrderImpact(o.id, baseline.get(o.id), variant.get(o.id), o.due, o.id in rush)
        (added if o.id in rush else existing).append(impact)
    existing.sort(key=lambda i: (i.change if i.change is not None else 0.0, i.order_id))
    return existing, added


def moved_operations(before: Schedule, after: Schedule, *, tolerance: float = 60.0) -> list[Move]:
    """Operations of orders in both plans that changed machine or moved by more than `tolerance` s,
    largest shift first."""
    old = {op.key: op for op in before.operations}
    out = []
    for op in after.operations:
        prev = old.get(op.key)
        if prev is None:
            continue
        if prev.machine_id != op.machine_id or abs(op.start - prev.start) > tolerance:
            out.append(
                Move(
                    op.order_id,
                    op.op_index,
                    op.operation,
                    prev.machine_id,
                    op.machine_id,
                    prev.start,
                    op.start,
                )
            )
    out.sort(key=lambda m: (-abs(m.shift), m.order_id, m.op_index))
    return out
