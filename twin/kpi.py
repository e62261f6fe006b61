"""The one KPI engine and the KPI registry: a machine-state log and production counts ->
ISO 22400-2 time elements, and every KPI's name, unit, better-direction, format and formula.

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

The registry (`KpiRegistry`, the default one is `KPIS`) is the one place that says what a
KPI is called, its unit, whether higher or lower is better, how it is shown and how it is
computed (from `TimeElements` and the run's `FlowCounts`). The simulator evaluates it into
its results, and scenario comparison, reports, the command line and the dashboard read
names, units, directions and formats from it. It is plain immutable data passed along as
an argument (the core keeps no global state): a caller with its own registry hands it to
`sim.replicate(kpis=...)`, `scenarios.run_scenario(kpis=...)`, the CLI's context object
and the dashboard's app factory. Compute functions are module-level functions so that a
registry pickles to worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal

import pandas as pd

from twin.states import MachineState
from twin.timeutil import format_duration

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
    starved: float = 0.0
    """The part of ADET in state Starved (waiting for upstream or material)."""
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
            if state == MachineState.STARVED.value:
                acc["starved"] = acc.get("starved", 0.0) + float(seconds)
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


@dataclass(frozen=True)
class FlowCounts:
    """What a run's orders and units did in its window: the basis of the plant-level KPIs."""

    span: float = 0.0
    """Window length, seconds."""
    units_good: int = 0
    units_scrapped: int = 0
    orders_completed: int = 0
    orders_judged: int = 0
    """Orders whose on-time status is known: completed, or due inside the window."""
    orders_on_time: int = 0
    lead_time_sum: float = 0.0
    """Sum over completed orders of completion - release, seconds."""
    tardiness: float = 0.0
    """Sum of max(0, completion - due) over completed orders, plus the overdue time of open ones."""
    wip_area: float = 0.0
    """Integral of orders in the plant over the window, order-seconds."""
    makespan: float = 0.0
    """Last operation end - window start, seconds."""


Better = Literal["higher", "lower"]
Format = Literal["percent", "duration", "count", "number"]
Scope = Literal["plant", "station", "both"]
Compute = Callable[[TimeElements, FlowCounts], float]


@dataclass(frozen=True)
class Kpi:
    """One KPI: its name (the key in results), how it reads, which way is better, how it is computed.

    `scope`: 'plant' (one value per run), 'station' (one per station, keyed `name.<station>`) or
    'both'. `in_results`: the simulator evaluates it into every run's KPIs (False: a catalogue
    entry computed on demand, e.g. by `plantwin history kpis`). `compute(elements, flow)` gets a
    station's (or the plant's summed) time elements and the run's flow counts.
    """

    name: str
    label: str
    unit: str
    better: Better
    fmt: Format
    compute: Compute
    scope: Scope = "plant"
    headline: bool = False
    in_results: bool = True
    formula: str = ""
    """The definition in words or ISO 22400 symbols, for docs and tooltips."""
    share: bool = False
    """A proportion of a whole, in [0, 1] in every replication: its interval is bounded there
    (twin.stats.share_ci). Not every percent is one: performance may exceed 1 on bad data."""

    def format(self, value: float | None, missing: str = "-") -> str:
        """The value as a person reads it: '87.5%', '2h 05m', '1,204', '3.14'."""
        if value is None or not math.isfinite(value):
            return missing
        if self.fmt == "percent":
            return f"{value:.1%}"
        if self.fmt == "duration":
            return format_duration(value)
        if self.fmt == "count":
            return f"{value:,.0f}"
        return f"{value:,.2f}"

    @property
    def display(self) -> tuple[str, float]:
        """(unit, scale) for charts and dashboard tables: durations in hours, shares in percent."""
        if self.fmt == "duration":
            return "h", 1 / 3600.0
        if self.fmt == "percent":
            return "%", 100.0
        return self.unit, 1.0


def _hours(flow: FlowCounts) -> float:
    return flow.span / 3600.0 if flow.span > 0 else NAN


# Compute functions: module level, so that a registry pickles by reference to worker processes.
def throughput_per_hour(el: TimeElements, f: FlowCounts) -> float:
    return f.units_good / _hours(f)


def orders_completed(el: TimeElements, f: FlowCounts) -> float:
    return float(f.orders_completed)


def orders_per_hour(el: TimeElements, f: FlowCounts) -> float:
    return f.orders_completed / _hours(f)


def lead_time_mean(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(f.lead_time_sum, f.orders_completed)


def wip_mean(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(f.wip_area, f.span)


def on_time_rate(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(f.orders_on_time, f.orders_judged)


def tardiness_total(el: TimeElements, f: FlowCounts) -> float:
    return f.tardiness


def makespan(el: TimeElements, f: FlowCounts) -> float:
    return f.makespan


def units_good(el: TimeElements, f: FlowCounts) -> float:
    return float(f.units_good)


def units_scrapped(el: TimeElements, f: FlowCounts) -> float:
    return float(f.units_scrapped)


def oee(el: TimeElements, f: FlowCounts) -> float:
    return el.oee


def availability(el: TimeElements, f: FlowCounts) -> float:
    return el.availability


def performance(el: TimeElements, f: FlowCounts) -> float:
    return el.effectiveness


def quality(el: TimeElements, f: FlowCounts) -> float:
    return el.quality_ratio


def utilisation(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(el.aubt, el.pbt)


def delay_share(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(el.adet, el.pbt)


def starved_share(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(el.starved, el.pbt)


def nee(el: TimeElements, f: FlowCounts) -> float:
    return el.nee


def utilization_efficiency(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(el.apt, el.aubt)


def technical_efficiency(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(el.apt, el.apt + el.adet)


def setup_rate(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(el.aust, el.aupt)


def scrap_ratio(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(el.sq, el.pq)


def rework_ratio(el: TimeElements, f: FlowCounts) -> float:
    return _ratio(el.rq, el.pq)


@dataclass(frozen=True)
class KpiRegistry:
    """An ordered, immutable set of KPIs (see `Kpi`); `KPIS` is the default one."""

    kpis: tuple[Kpi, ...]

    def __post_init__(self) -> None:
        names = [k.name for k in self.kpis]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"KPI registry: duplicate name(s) {dup}")
        bad = [n for n in names if "." in n]
        if bad:
            raise ValueError(f"KPI registry: a name may not contain '.' (it keys stations): {bad}")

    def with_kpis(self, *kpis: Kpi) -> KpiRegistry:
        """A copy with `kpis` added (a KPI of the same name is replaced in place)."""
        new = {k.name: k for k in kpis}
        kept = tuple(new.pop(k.name, k) for k in self.kpis)
        return replace(self, kpis=kept + tuple(new.values()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kpis)

    @property
    def headline(self) -> tuple[str, ...]:
        """The plant-level KPIs reports show first, in registry order."""
        return tuple(k.name for k in self.kpis if k.headline)

    def get(self, key: str) -> Kpi | None:
        """The KPI of a result key: 'oee' or a per-station key 'oee.saw' (None: not registered)."""
        for k in self.kpis:
            if k.name == key:
                return k
        base, dot, _ = key.partition(".")
        if dot:
            for k in self.kpis:
                if k.name == base and k.scope != "plant":
                    return k
        return None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def better(self, key: str) -> str | None:
        """'higher' or 'lower' (which way is an improvement); None for an unregistered key."""
        k = self.get(key)
        return k.better if k is not None else None

    def unit(self, key: str) -> str:
        k = self.get(key)
        return k.unit if k is not None else ""

    def label(self, key: str) -> str:
        """'OEE', or 'OEE (saw)' for a per-station key; an unregistered key as it is."""
        k = self.get(key)
        if k is None:
            return key
        station = key.partition(".")[2] if key != k.name else ""
        return f"{k.label} ({station})" if station else k.label

    def format(self, key: str, value: float | None, missing: str = "-") -> str:
        """The value formatted as its KPI says (an unregistered key: 4 significant digits)."""
        k = self.get(key)
        if k is not None:
            return k.format(value, missing)
        if value is None or not math.isfinite(value):
            return missing
        return f"{value:.4g}"

    def headline_rank(self, key: str) -> int:
        """Sort key: headline KPIs first in registry order, the rest after."""
        heads = self.headline
        return heads.index(key) if key in heads else len(heads)

    def evaluate(
        self, elements: Mapping[str, TimeElements], flow: FlowCounts = FlowCounts(), *, every: bool = False
    ) -> dict[str, float]:
        """Flat KPIs of a run: plant-level KPIs by name (element KPIs on the summed elements),
        then per station `name.<station>`. Only `in_results` KPIs unless `every`."""
        chosen = [k for k in self.kpis if every or k.in_results]
        plant = total(elements)
        out = {k.name: k.compute(plant, flow) for k in chosen if k.scope != "station"}
        for s, el in elements.items():
            for k in chosen:
                if k.scope != "plant":
                    out[f"{k.name}.{s}"] = k.compute(el, flow)
        return out

    def station_kpis(self, el: TimeElements) -> dict[str, float]:
        """Every element-based KPI of one station (or a sum of stations), by name."""
        flow = FlowCounts()
        return {k.name: k.compute(el, flow) for k in self.kpis if k.scope != "plant"}


def _k(name: str, label: str, unit: str, better: Better, fmt: Format, compute: Compute, **kw: object) -> Kpi:
    return Kpi(name, label, unit, better, fmt, compute, **kw)  # type: ignore[arg-type]


KPIS = KpiRegistry(
    (
        _k("throughput_per_hour", "throughput (good units / h)", "units/h", "higher", "number",
           throughput_per_hour, headline=True, formula="good units made / window hours"),
        _k("oee", "OEE", "", "higher", "percent", oee, share=True, scope="both", headline=True,
           formula="availability x effectiveness x quality ratio (ISO 22400)"),
        _k("wip_mean", "time-average WIP (orders)", "orders", "lower", "number", wip_mean,
           headline=True, formula="integral of orders in the plant / window (Little's L)"),
        _k("lead_time_mean", "mean time in system (lead time)", "s", "lower", "duration",
           lead_time_mean, headline=True, formula="mean of completion - release over completed orders"),
        _k("tardiness_total", "total tardiness", "s", "lower", "duration", tardiness_total,
           headline=True, formula="sum of max(0, completion - due), open overdue ones to the window end"),
        _k("on_time_rate", "on-time rate", "", "higher", "percent", on_time_rate, share=True, headline=True,
           formula="orders done by their due time / orders judged (done, or due in the window)"),
        _k("makespan", "makespan", "s", "lower", "duration", makespan, headline=True,
           formula="last operation end - window start"),
        _k("orders_completed", "orders completed", "orders", "higher", "count", orders_completed,
           headline=True),
        _k("units_good", "good units", "units", "higher", "count", units_good, headline=True),
        _k("units_scrapped", "scrapped units", "units", "lower", "count", units_scrapped, headline=True),
        _k("orders_per_hour", "orders completed / h", "orders/h", "higher", "number", orders_per_hour),
        _k("availability", "availability", "", "higher", "percent", availability, share=True, scope="both",
           formula="APT / PBT"),
        _k("performance", "performance", "", "higher", "percent", performance,
           scope="both", formula="PRI x PQ (+ planned batch times) / APT"),
        _k("quality", "quality", "", "higher", "percent", quality, share=True, scope="both",
           formula="GQ / PQ"),
        _k("utilisation", "busy", "", "higher", "percent", utilisation, share=True,
           scope="station", formula="AUBT / PBT"),
        _k("delay", "delay", "", "lower", "percent", delay_share, scope="station",
           formula="ADET / PBT (starved, blocked, held)"),
        _k("starved", "starved", "", "lower", "percent", starved_share, share=True, scope="station",
           formula="time Starved / PBT"),
        _k("nee", "NEE", "", "higher", "percent", nee, scope="station", in_results=False,
           formula="AUPT / PBT x effectiveness x quality ratio"),
        _k("utilization_efficiency", "utilization efficiency", "", "higher", "percent",
           utilization_efficiency, scope="station", in_results=False, formula="APT / AUBT"),
        _k("technical_efficiency", "technical efficiency", "", "higher", "percent",
           technical_efficiency, scope="station", in_results=False, formula="APT / (APT + ADET)"),
        _k("setup_rate", "setup rate", "", "lower", "percent", setup_rate, scope="station",
           in_results=False, formula="AUST / AUPT"),
        _k("scrap_ratio", "scrap ratio", "", "lower", "percent", scrap_ratio, scope="station",
           in_results=False, formula="SQ / PQ"),
        _k("rework_ratio", "rework ratio", "", "lower", "percent", rework_ratio, scope="station",
           in_results=False, formula="RQ / PQ"),
    )
)  # fmt: skip
"""The default registry: every KPI the simulator reports, and the ISO 22400 catalogue."""


def kpi_dict(elements: Mapping[str, TimeElements], registry: KpiRegistry = KPIS) -> dict[str, float]:
    """The element-based KPIs of `registry` that the simulator reports: plant-level `oee`,
    `availability`, `performance`, `quality` (from summed elements) and per station
    `oee.<station>`, ..., `utilisation.<station>` (AUBT / PBT), `delay.<station>` (ADET / PBT),
    `starved.<station>`."""
    flow_free = KpiRegistry(tuple(k for k in registry.kpis if k.scope != "plant"))
    return flow_free.evaluate(elements)
