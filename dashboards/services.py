"""What the dashboard needs from the rest of plantwin: a `DashboardServices` protocol and its data types.

The composition root (`plantwin dashboard`, `plantwin demo`) builds an object with these methods
(queries against the history store, the live state, and the what-if / dispatch actions) and passes
it to `dashboards.app.create_app`. Pages only call these methods, so a test can plug in any object
that has them. Times are plant seconds (from `plant().epoch`); pages convert them to wall time.

DataFrame columns are part of the contract and are listed on each method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from twin.live import LiveState
from twin.plant import Plant
from twin.schedule import Schedule
from twin.verdict import Verdict

Progress = Callable[[float, str], None]
"""Reports progress of long work: (fraction done in 0..1, what is happening now)."""

RUN_KINDS: tuple[str, ...] = ("plan", "simulation", "scenario", "verdict", "dispatch", "sync", "demo")


@dataclass(frozen=True)
class RunSummary:
    """One run in the history, as the run list shows it."""

    run_id: str
    kind: str
    created: datetime
    label: str = ""
    plant: str = ""
    parent: str | None = None
    kpis: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ShiftWindow:
    """A shift (or the working window the floor page summarises) in plant seconds."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class ScenarioInfo:
    """A scenario from the library: its name (what the runner takes) and one line about it."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class WhatIfRequest:
    """A what-if to run: a library scenario by name, or a rush order (product, quantity, due)."""

    scenario: str | None = None
    product: str | None = None
    quantity: int | None = None
    due: float | None = None
    """Plant seconds."""
    replications: int = 10
    seed: int = 1

    def describe(self) -> str:
        if self.scenario:
            return f"scenario {self.scenario}"
        return f"rush order {self.quantity} x {self.product}"


@dataclass(frozen=True)
class WhatIfResult:
    """The outcome of a what-if: a KPI comparison and the baseline and variant plans.

    `comparison` columns: kpi, unit, better, baseline, variant, difference, ci_low, ci_high
    (ci_* the 95 % CI of the paired difference, NaN when not available).
    `order_changes` columns: order_id, baseline, variant, change (on-time probabilities).
    """

    run_id: str | None
    title: str
    comparison: pd.DataFrame
    baseline: Schedule | None = None
    variant: Schedule | None = None
    accepted: bool | None = None
    reasons: tuple[str, ...] = ()
    order_changes: pd.DataFrame | None = None


@dataclass(frozen=True)
class Candidate:
    """A schedule that could be sent to the floor, with the simulator's verdict on it (if any)."""

    run_id: str
    label: str
    schedule: Schedule
    verdict: Verdict | None
    created: datetime | None = None


@dataclass(frozen=True)
class DispatchOutcome:
    """What happened when a schedule was sent: sent or not, and a message for the user."""

    ok: bool
    message: str
    run_id: str | None = None


class DashboardServices(Protocol):
    """Queries and actions behind the pages. Implementations must be safe to call from threads."""

    def plant(self) -> Plant:
        """The plant model the history belongs to (names, epoch, process values)."""
        ...

    def now(self) -> float:
        """The current plant time (seconds): live time when synced, else the latest actual."""
        ...

    def live_state(self) -> LiveState | None:
        """Where the floor is now, or None when no sync is running."""
        ...

    def current_shift(self, t: float) -> ShiftWindow:
        """The shift containing `t` (or the last one before it when off shift)."""
        ...

    def station_oee(self, start: float, end: float) -> pd.DataFrame:
        """OEE per station over [start, end).

        Columns: station, availability, performance, quality, oee (fractions; NaN when undefined).
        """
        ...

    def output_vs_plan(self, start: float, end: float) -> pd.DataFrame:
        """Good parts planned and made per station over [start, end) by the dispatched plan.

        Columns: station, planned, actual.
        """
        ...

    def list_runs(
        self, kind: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[RunSummary]:
        """Runs newest first, optionally of one kind and created at/after `since` (wall clock)."""
        ...

    def schedule(self, run_id: str) -> Schedule:
        """The schedule of a plan run. Raises KeyError for an unknown run."""
        ...

    def actual_operations(self, start: float, end: float) -> pd.DataFrame:
        """Operations that actually ran overlapping [start, end).

        Columns: order_id, op_index, operation, station, machine, start, end, product.
        """
        ...

    def output_curves(
        self, plan_run: str, sim_run: str | None, start: float, end: float, by: str
    ) -> pd.DataFrame:
        """Cumulative good output over time for each station or product (`by`).

        Columns: time, key, planned, sim_p10, sim_p50, sim_p90, actual (sim_* NaN without a
        simulation run; actual NaN after the last actual).
        """
        ...

    def orders_at_risk(self, plan_run: str, threshold: float) -> pd.DataFrame:
        """Orders of the plan whose simulated on-time probability is below `threshold`.

        Columns: order_id, product, due, planned_completion, on_time_probability, ci_low, ci_high.
        """
        ...

    def scenario_library(self) -> list[ScenarioInfo]:
        """Scenarios the what-if page offers."""
        ...

    def run_whatif(self, request: WhatIfRequest, progress: Progress) -> WhatIfResult:
        """Run a what-if (long: seconds to minutes), reporting progress; stores it in the history.

        Raises:
            PlantwinError: the request cannot be run (message shown to the user).
        """
        ...

    def candidates(self) -> list[Candidate]:
        """Plans that could be dispatched, newest first, each with its verdict (or None)."""
        ...

    def dispatch(self, run_id: str) -> DispatchOutcome:
        """Send a plan to the floor; refuses (ok=False, reasons) unless its verdict is accepted."""
        ...

    def process_series(
        self, station: str, tag: str, start: float | None, end: float | None, limit: int
    ) -> pd.DataFrame:
        """The last `limit` values of a station's process value (`tag`: its name in the plant, as
        sync records it under `twin.tagnames.process_value_tag`) in the window, oldest first.

        Columns: time, value.
        """
        ...

    def compare_runs(self, a: str, b: str) -> pd.DataFrame:
        """Two runs side by side. Columns: item, a, b (values as text, for display)."""
        ...

    def fidelity_scores(self) -> pd.DataFrame:
        """Recorded accuracy scores, oldest first. Columns: created, run_id, simulation, coverage,
        cells, bias_h, mae_h, brier (NaN where undefined)."""
        ...

    def fidelity_misses(self, run_id: str) -> pd.DataFrame:
        """Coverage per station and product of one score, lowest first. Columns: station, product,
        coverage, cells."""
        ...


def run_kpis_text(kpis: dict[str, Any]) -> str:
    """A short 'name=value' summary of a run's KPIs for a table cell."""
    parts = []
    for k, v in sorted(kpis.items())[:6]:
        parts.append(f"{k}={v:.3g}" if isinstance(v, int | float) else f"{k}={v}")
    return ", ".join(parts)
