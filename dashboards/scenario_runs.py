"""What-if runs for the dashboard: a `WhatIfRequest` through the scenario runner, into the history,
and back as a `WhatIfResult` the page can draw.

Library scenarios run on the base their file names (a scenario file is self-contained, so the
numbers match `plantwin whatif NAME`); a rush order runs on the dashboard's plant and the order
book of the latest plan in the history.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

import pandas as pd

from dashboards.services import Progress, ScenarioInfo, WhatIfRequest, WhatIfResult
from scenarios.files import LoadedScenario, library_descriptions, load_scenario, rush_order_scenario
from scenarios.report import ScenarioReport
from twin.errors import PlantwinError
from twin.history import HistoryStore
from twin.kpi import KPIS, KpiRegistry
from twin.plant import Plant


class ScenarioRunner(Protocol):
    """`scenarios.runner.run_scenario` with its engine bound (the composition root passes it:
    the runner reaches the planner and the simulator, which the dashboard may not import)."""

    def __call__(
        self,
        loaded: LoadedScenario,
        *,
        replications: int | None,
        seed: int | None,
        progress: Callable[[str, int, int], None] | None,
    ) -> ScenarioReport: ...


def library() -> list[ScenarioInfo]:
    """The shipped scenario library."""
    return [ScenarioInfo(name, text) for name, text in library_descriptions().items()]


def comparison_frame(report: ScenarioReport, kpis: KpiRegistry = KPIS) -> pd.DataFrame:
    """The first variant's KPI comparison, plant-level KPIs only (headline ones first), in the
    display units of the registry `kpis` (durations in hours, shares in percent); `better` is
    the direction of improvement ('higher', 'lower', '' when unknown)."""
    cols = ["kpi", "unit", "better", "baseline", "variant", "difference", "ci_low", "ci_high"]
    if not report.variants:
        return pd.DataFrame(columns=cols)
    rows = []
    chosen = [c for c in report.variants[0].comparison if "." not in c.kpi]
    for c in sorted(chosen, key=lambda c: kpis.headline_rank(c.kpi)):
        k = kpis.get(c.kpi)
        unit, scale = k.display if k is not None else ("", 1.0)
        rows.append(
            (
                c.kpi,
                unit,
                c.better,
                c.baseline.mean * scale,
                c.variant.mean * scale,
                c.difference.mean * scale,
                c.difference.low * scale,
                c.difference.high * scale,
            )
        )
    return pd.DataFrame(rows, columns=cols)


def to_result(report: ScenarioReport, run_id: str | None, kpis: KpiRegistry = KPIS) -> WhatIfResult:
    """The page's view of a scenario report (its first variant against the baseline)."""
    v = report.variants[0] if report.variants else None
    changes = pd.DataFrame(
        [
            {
                "order_id": o.order_id + (" (rush)" if o.rush else ""),
                "baseline": o.baseline,
                "variant": o.variant,
                "change": o.change,
            }
            for o in ((*v.rush, *v.orders) if v else ())
        ],
        columns=["order_id", "baseline", "variant", "change"],
    ).astype({"baseline": float, "variant": float, "change": float})
    title = report.scenario if v is None or v.name == report.scenario else f"{report.scenario}: {v.name}"
    if v is None:
        title += " (baseline only)"
    elif v.fits is not None:
        title += " - the rush order fits" if v.fits else " - does not fit"
    return WhatIfResult(
        run_id=run_id,
        title=title,
        comparison=comparison_frame(report, kpis),
        baseline=report.baseline.schedule,
        variant=v.side.schedule if v else None,
        accepted=v.side.check.accepted if v else report.baseline.check.accepted,
        reasons=tuple(v.side.check.reasons) if v else tuple(report.baseline.check.reasons),
        order_changes=changes,
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class ScenarioWhatIf:
    """A what-if runner for `HistoryServices(whatif=...)`: loads the scenario (a library one, or a
    rush order made into one), runs it with `runner`, and records the run in `store`. `kpis` is
    the registry the comparison is shown with (the runner's simulations should use the same)."""

    def __init__(
        self,
        runner: ScenarioRunner,
        store: HistoryStore | None,
        plant: Callable[[], Plant],
        kpis: KpiRegistry = KPIS,
    ) -> None:
        self.runner = runner
        self.store = store
        self.plant = plant
        self.kpis = kpis

    def __call__(self, request: WhatIfRequest, progress: Progress) -> WhatIfResult:
        """Raises PlantwinError (InputError) for a request the runner cannot take."""
        progress(0.0, "loading the scenario")
        if request.scenario:
            loaded = load_scenario(request.scenario)
            text = loaded.text
        else:
            if not request.product or not request.quantity or request.due is None:
                raise PlantwinError("a rush order needs a product, a quantity and a due time")
            plant = self.plant()
            due = plant.epoch + timedelta(seconds=float(request.due))
            loaded = rush_order_scenario(
                plant,
                self._order_book(),
                request.product,
                request.quantity,
                float(request.due),
                order_id=f"RUSH-{uuid.uuid4().hex[:6].upper()}",
                priority=3.0,
                replications=request.replications,
                seed=request.seed,
                mode="solve",
                now=self._now(),
                name="dashboard-rush-order",
                description=f"Rush order of {request.quantity} {request.product} due {due.isoformat()} "
                "(dashboard)",
                source="dashboard rush order",
            )
            text = loaded.text

        def tick(what: str, done: int, total: int) -> None:
            progress(0.05 + 0.9 * done / max(total, 1), what)

        report = self.runner(loaded, replications=request.replications, seed=request.seed, progress=tick)
        progress(0.97, "recording in the history")
        run_id = self._record(report, text, loaded)
        return to_result(report, run_id, self.kpis)

    def _order_book(self) -> list[Any] | None:
        if self.store is None:
            return None
        plans = self.store.runs(kind="plan", limit=1)
        if not plans:
            raise PlantwinError(
                "no plan in the history: a rush order is added to the latest plan's order book"
            )
        return self.store.get_orders(plans[0].id) or None

    def _now(self) -> float:
        if self.store is None:
            return 0.0
        t = self.store.latest_actual_time()
        return 0.0 if t is None else t

    def _record(self, report: ScenarioReport, text: str, loaded: Any) -> str | None:
        if self.store is None:
            return None
        kpis: dict[str, float] = {}
        for k, est in report.baseline.kpis.items():
            if "." not in k:
                kpis[f"baseline.{k}"] = est.mean
        for v in report.variants:
            for c in v.comparison:
                if "." not in c.kpi:
                    kpis[f"{v.name}.{c.kpi}"] = c.variant.mean
                    kpis[f"{v.name}.{c.kpi}.difference"] = c.difference.mean
        return self.store.record_run(
            "scenario",
            started_by="plantwin dashboard",
            plant=loaded.plant,
            orders=list(loaded.orders),
            params={
                "scenario": report.scenario,
                "seed": report.seed,
                "replications": report.replications,
                "variants": [v.name for v in report.variants],
            },
            kpis=_json_safe(kpis),
            extra_files={
                "scenario.yaml": text,
                "report.json": json.dumps(_json_safe(report.to_dict()), default=str),
            },
        )
