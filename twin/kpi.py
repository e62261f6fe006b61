"""The one KPI engine: a machine-state log and production counts -> ISO 22400-2 time elements and KPIs.

The simulator's log and the floor's log (from the sync layer) go through this same
code, so plan, simulation and actual are compared like with like.

Input:
- a state-interval log: rows (station, state, start, end) in plant seconds, one row
  per machine and interval, state a `twin.states.MachineState` value (a DataFrame
  with those columns, extra columns ignored, or an iterable of 4-tuples);
- production per station: good, scrap and rework quantities and the planned run
  time of what was produced (sum of PRI x produced units, plus planned batch times);
- a window [start, end): intervals are clipped to it.

Time elements per station (summed over its machines), from the state table in
`twin.states`:

| element | states | meaning |
|---|---|---|
| POT  planned operation time | every state but Stopped | the station was planned to run |
| PDOT planned down time | Maintenance | |
| PBT  planned busy time | POT - PDOT | |
| APT  actual production time | Execute | |
| AUST actual unit setup time | Setup | |
| ADET actual unit delay time | Starved, Blocked, Held | |
| ADOT actual unit down time | Aborted | breakdowns and repairs |
| AUBT actual unit busy time | APT + AUST | (AUPT, the unit processing time, is taken equal to it) |
| idle | Idle | in PBT, no work |

KPIs (ISO 22400-2 names): availability = APT / PBT; effectiveness (the
"performance" factor of OEE) = planned run time / APT; quality ratio = GQ / PQ;
OEE = availability x effectiveness x quality ratio; NEE = AUPT / PBT x effectiveness x
quality ratio; utilisation efficiency = APT / AUBT; allocation efficiency = AUBT / PBT;
technical efficiency = APT / (APT + ADET); setup rate = AUST / AUPT; scrap ratio =
SQ / PQ; rework ratio = RQ / PQ. PQ = GQ + SQ + RQ.

Aggregation (a plant, several stations, several windows) sums the elements and
quantities and computes the ratios from the sums; ratios are never averaged. A ratio
whose denominator is 0 is NaN ("undefined"): availability when PBT = 0 (the station
was not planned to run), effectiveness when APT = 0, quality when nothing was produced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

import pandas as pd

from twin.states import MachineState

NAN = math.nan

STATE_ELEMENT: dict[str, str] = {
    MachineState.EXECUTE.value: "apt",
    MachineState.SETUP.value: "aust",
    MachineState.IDLE.value: "idle",
    MachineState.STARVED.value: "adet",
    MachineState.BLOCKED.value: "adet",
    MachineState.HELD.value: "adet",
    MachineState.ABORTED.value: "adot",
    MachineState.MAINTENANCE.value: "pdot",
    MachineState.STOPPED.value: "stopped",
}
"""Which time element each machine state's time counts as."""


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else NAN


@dataclass(frozen=True)
class Production:
    """What a station produced in the window: good, scrap, rework units and their planned run time."""

    station: str
    good: int = 0
    scrap: int = 0
    rework: int = 0
    planned_time: float = 0.0
    """Sum over produced units of the planned run time per item (PRI), plus planned batch times."""

    @classmethod
    def from_pri(cls, station: str, good: int, scrap: int, pri: float, rework: int = 0) -> Production:
        """Counts with one PRI for every produced unit."""
        return cls(station, good, scrap, rework, pri * (good + scrap + rework))


@dataclass(frozen=True)
class TimeElements:
    """ISO 22400 time elements (seconds) and quantities of one station, or a sum of stations."""

    apt: float = 0.0
    aust: float = 0.0
    idle: float = 0.0
    adet: float = 0.0
    adot: float = 0.0
    pdot: float = 0.0
    stopped: float = 0.0
    gq: int = 0
    sq: int = 0
    rq: int = 0
    planned_time: float = 0.0

    def __add__(self, other: TimeElements) -> TimeElements:
        return TimeElements(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    # ---- derived elements ----
    @property
    def pbt(self) -> float:
        return self.apt + self.aust + self.idle + self.adet + self.adot

    @property
    def pot(self) -> float:
        return self.pbt + self.pdot

    @property
    def aubt(self) -> float:
        return self.apt + self.aust

    @property
    def aupt(self) -> float:
        return self.aubt

    @property
    def pq(self) -> int:
        return self.gq + self.sq + self.rq

    # ---- KPIs ----
    @property
    def availability(self) -> float:
        return _ratio(self.apt, self.pbt)

    @property
    def effectiveness(self) -> float:
        return _ratio(self.planned_time, self.apt)

    @property
    def quality_ratio(self) -> float:
        return _ratio(self.gq, self.pq)

    @property
    def oee(self) -> float:
        return self.availability * self.effectiveness * self.quality_ratio

    @property
    def nee(self) -> float:
        return _ratio(self.aupt, self.pbt) * self.effectiveness * self.quality_ratio

    def kpis(self) -> dict[str, float]:
        """Every KPI of these elements by name, plus the elements themselves."""
        return {
            "oee": self.oee,
            "availability": self.availability,
            "performance": self.effectiveness,
            "quality": self.quality_ratio,
            "nee": self.nee,
            "utilization_efficiency": _ratio(self.apt, self.aubt),
            "allocation_efficiency": _ratio(self.aubt, self.pbt),
            "technical_efficiency": _ratio(self.apt, self.apt + self.adet),
            "setup_rate": _ratio(self.aust, self.aupt),
            "scrap_ratio": _ratio(self.sq, self.pq),
            "rework_ratio": _ratio(self.rq, self.pq),
            "pot": self.pot,
            "pdot": self.pdot,
            "pbt": self.pbt,
            "apt": self.apt,
            "aust": self.aust,
            "adet": self.adet,
            "adot": self.adot,
            "aubt": self.aubt,
            "idle": self.idle,
            "pq": float(self.pq),
            "gq": float(self.gq),
            "sq": float(self.sq),
            "rq": float(self.rq),
        }


def state_times(
    states: pd.DataFrame | Iterable[tuple[str, str, float, float]], window: tuple[float, float]
) -> pd.DataFrame:
    """Seconds per (station, state) inside `window`, clipped; a DataFrame station x state.

    Raises:
        ValueError: a state that is not a `MachineState` value.
    """
    if not isinstance(states, pd.DataFrame):
        states = pd.DataFrame(list(states), columns=["station", "state", "start", "end"])
    a, b = window
    if states.empty:
        return pd.DataFrame(dtype=float)
    unknown = set(states["state"].unique()) - set(STATE_ELEMENT)
    if unknown:
        raise ValueError(f"unknown machine state(s) {sorted(unknown)}; expected MachineState values")
    start = states["start"].to_numpy(dtype=float).clip(min=a)
    end = states["end"].to_numpy(dtype=float).clip(max=b)
    dur = (end - start).clip(min=0.0)
    frame = pd.DataFrame(
        {"station": states["station"].to_numpy(), "state": states["state"].to_numpy(), "d": dur}
    )
    return frame.groupby(["station", "state"], sort=True)["d"].sum().unstack(fill_value=0.0)


def time_elements(
    states: pd.DataFrame | Iterable[tuple[str, str, float, float]],
    window: tuple[float, float],
    production: Iterable[Production] = (),
    stations: Iterable[str] = (),
) -> dict[str, TimeElements]:
    """Time elements and quantities per station over `window` (see the module docstring).

    `stations` lists stations to report even if the log has no row for them.
    """
    return elements_from_times(state_times(states, window), production, stations)


def elements_from_times(
    table: pd.DataFrame, production: Iterable[Production] = (), stations: Iterable[str] = ()
) -> dict[str, TimeElements]:
    """Time elements from a `state_times` table (station x state seconds) and production counts."""
    out: dict[str, dict[str, float]] = {s: {} for s in stations}
    for station, row in table.iterrows():
        acc = out.setdefault(str(station), {})
        for state, seconds in row.items():
            el = STATE_ELEMENT[str(state)]
            acc[el] = acc.get(el, 0.0) + float(seconds)
    for p in production:
        acc = out.setdefault(p.station, {})
        acc["gq"] = acc.get("gq", 0) + p.good
        acc["sq"] = acc.get("sq", 0) + p.scrap
        acc["rq"] = acc.get("rq", 0) + p.rework
        acc["planned_time"] = acc.get("planned_time", 0.0) + p.planned_time
    return {s: TimeElements(**acc) for s, acc in out.items()}  # type: ignore[arg-type]


def total(elements: Mapping[str, TimeElements]) -> TimeElements:
    """The sum of several stations' elements (a line, a plant)."""
    out = TimeElements()
    for el in elements.values():
        out = out + el
    return out


def kpi_dict(elements: Mapping[str, TimeElements]) -> dict[str, float]:
    """Flat KPIs: plant-level `oee`, `availability`, `performance`, `quality` (from summed
    elements) and per station `oee.<station>`, `availability.<station>`, `performance.<station>`,
    `quality.<station>`, `utilisation.<station>` (allocation efficiency AUBT / PBT),
    `delay.<station>` (ADET / PBT)."""
    plant = total(elements)
    out = {
        "oee": plant.oee,
        "availability": plant.availability,
        "performance": plant.effectiveness,
        "quality": plant.quality_ratio,
    }
    for s, el in elements.items():
        out[f"oee.{s}"] = el.oee
        out[f"availability.{s}"] = el.availability
        out[f"performance.{s}"] = el.effectiveness
        out[f"quality.{s}"] = el.quality_ratio
        out[f"utilisation.{s}"] = _ratio(el.aubt, el.pbt)
        out[f"delay.{s}"] = _ratio(el.adet, el.pbt)
    return out
