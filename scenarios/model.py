"""The scenario file: a base, variants made of typed changes, an optional sweep, and how to judge.

Users write these models in YAML, so they are strict (`extra="forbid"`, a misspelt
key is an error) and every change is tagged by `type` (a pydantic discriminated
union, as Vizro does). Times (`due`, `start`, ...) stay as written here (an ISO
datetime, plant seconds, or a duration after the plant epoch) and are resolved
against the plant when the change is applied (`scenarios.changes`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from twin import bounds as B
from twin.bounds import number, whole
from twin.distributions import Dist

MAX_FACTOR = 1000.0
"""A scale factor (demand, repair time, cycle time): at most a thousandfold."""
MAX_TIME_LIMIT = 86400.0
"""A CP-SAT time or work limit, seconds."""
MAX_REPLICATIONS = 10_000
"""Replications of one judged variant."""


def _as_written(value: Any) -> Any:
    """An unquoted YAML timestamp arrives as a datetime: keep it as its ISO text."""
    return value.isoformat() if isinstance(value, datetime | date) else value


TimeValue = Annotated[float | str, BeforeValidator(_as_written)]
"""A plant time: ISO datetime ('2026-12-03T14:00:00+01:00'), seconds, or a duration ('2d6h')."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)


# ---------------------------------------------------------------- orders
class AddOrder(_Strict):
    """A new (rush) order; re-planned with the planner's minimal-disruption re-plan."""

    type: Literal["add_order"]
    id: str = Field(min_length=1)
    product: str
    quantity: whole(1, B.MAX_QUANTITY)
    due: TimeValue
    release: TimeValue | None = None
    """Default: the scenario's `now` (the order can start at once)."""
    priority: number(0, B.MAX_WEIGHT, lo_open=True) = 1.0
    """Tardiness weight of the order (the order book's `weight`)."""


class CancelOrder(_Strict):
    """Remove an order from the book."""

    type: Literal["cancel_order"]
    order: str


class MoveDue(_Strict):
    """Move an order's due time: to `due`, or later by `later` / earlier by `earlier`."""

    type: Literal["move_due"]
    order: str
    due: TimeValue | None = None
    later: TimeValue | None = None
    earlier: TimeValue | None = None

    @model_validator(mode="after")
    def _one(self) -> MoveDue:
        if sum(v is not None for v in (self.due, self.later, self.earlier)) != 1:
            raise ValueError("give exactly one of 'due', 'later', 'earlier'")
        return self


class ScaleDemand(_Strict):
    """Multiply order quantities (of one product, or all), rounding to whole units (at least 1)."""

    type: Literal["scale_demand"]
    factor: number(0, MAX_FACTOR, lo_open=True)
    product: str | None = None


# ---------------------------------------------------------------- disruptions
class StationDown(_Strict):
    """A station (all its machines) down from `start` for `duration` (a known outage)."""

    type: Literal["station_down"]
    station: str
    start: TimeValue
    duration: TimeValue
    reason: str = "scenario: station down"


class RepairTime(_Strict):
    """A longer (or shorter) time to repair at a station: MTTR scaled by `factor` or replaced."""

    type: Literal["mttr"]
    station: str
    factor: number(0, MAX_FACTOR, lo_open=True) | None = None
    mttr: Dist | None = None

    @model_validator(mode="after")
    def _one(self) -> RepairTime:
        if (self.factor is None) == (self.mttr is None):
            raise ValueError("give exactly one of 'factor' or 'mttr'")
        return self


class DeliverySlip(_Strict):
    """A material delivery that slips by `by` (every delivery of the material, or the `index`-th)."""

    type: Literal["delivery_slip"]
    material: str
    by: TimeValue
    index: whole(0, B.MAX_SAMPLES) | None = None


# ---------------------------------------------------------------- capacity
class AddShift(_Strict):
    """Extra working time (an added shift, or overtime) from `start` to `end` on a calendar.

    `calendar` defaults to every calendar of the plant.
    """

    type: Literal["add_shift", "overtime"]
    start: TimeValue
    end: TimeValue
    calendar: str | None = None
    reason: str = "scenario: extra shift"


class RemoveShift(_Strict):
    """No work from `start` to `end` on a calendar (a cancelled shift); default every calendar."""

    type: Literal["remove_shift"]
    start: TimeValue
    end: TimeValue
    calendar: str | None = None
    reason: str = "scenario: shift removed"


class Operators(_Strict):
    """Change a resource pool (operators of a skill, tools): to `capacity`, or by `add` (may be < 0)."""

    type: Literal["operators"]
    resource: str
    capacity: whole(1, B.MAX_CAPACITY) | None = None
    add: whole(-B.MAX_CAPACITY, B.MAX_CAPACITY) | None = None

    @model_validator(mode="after")
    def _one(self) -> Operators:
        if (self.capacity is None) == (self.add is None):
            raise ValueError("give exactly one of 'capacity' or 'add'")
        return self


class AddMachine(_Strict):
    """Parallel machines at a station: `count` more (negative removes, at least one stays)."""

    type: Literal["add_machine"]
    station: str
    count: whole(-B.MAX_MACHINES, B.MAX_MACHINES) = 1


class BufferSize(_Strict):
    """The input buffer of a station: `size` places (null = unbounded)."""

    type: Literal["buffer"]
    station: str
    size: whole(0, B.MAX_BUFFER) | None


# ---------------------------------------------------------------- line changes
class AddStation(_Strict):
    """A new station on a line, after station `after` (default: at the end of the line).

    `station` is written like a station in the plant file. Use `reroute` to give it work.
    """

    type: Literal["add_station"]
    line: str
    station: dict[str, Any]
    after: str | None = None


class RemoveStation(_Strict):
    """Remove a station; every operation must keep another eligible station (reroute first)."""

    type: Literal["remove_station"]
    station: str


class CycleTime(_Strict):
    """Change processing times: to `time`, or scaled by `factor`.

    Selects the operations of `product` (all products if omitted), named `operation`
    (all if omitted) and eligible at `station` (any if omitted); at least one selector.
    The plant holds one time per operation: an operation eligible at several stations
    changes on all of them.
    """

    type: Literal["cycle_time"]
    product: str | None = None
    operation: str | None = None
    station: str | None = None
    factor: number(0, MAX_FACTOR, lo_open=True) | None = None
    time: Dist | None = None

    @model_validator(mode="after")
    def _valid(self) -> CycleTime:
        if (self.factor is None) == (self.time is None):
            raise ValueError("give exactly one of 'factor' or 'time'")
        if self.product is None and self.operation is None and self.station is None:
            raise ValueError("select operations by 'product', 'operation' and/or 'station'")
        return self


class Yield(_Strict):
    """The first-pass yield of an operation of a product."""

    type: Literal["yield"]
    product: str
    operation: str
    value: number(B.MIN_YIELD, 1)


class Reroute(_Strict):
    """The eligible stations of an operation of a product."""

    type: Literal["reroute"]
    product: str
    operation: str
    stations: tuple[str, ...] = Field(min_length=1)


Change = Annotated[
    AddOrder
    | CancelOrder
    | MoveDue
    | ScaleDemand
    | StationDown
    | RepairTime
    | DeliverySlip
    | AddShift
    | RemoveShift
    | Operators
    | AddMachine
    | BufferSize
    | AddStation
    | RemoveStation
    | CycleTime
    | Yield
    | Reroute,
    Field(discriminator="type"),
]
"""One typed change; `type` selects the kind."""

CHANGE_TAGS: frozenset[str] = frozenset(
    tag
    for cls in (
        AddOrder,
        CancelOrder,
        MoveDue,
        ScaleDemand,
        StationDown,
        RepairTime,
        DeliverySlip,
        AddShift,
        RemoveShift,
        Operators,
        AddMachine,
        BufferSize,
        AddStation,
        RemoveStation,
        CycleTime,
        Yield,
        Reroute,
    )
    for tag in get_args(cls.model_fields["type"].annotation)
)
"""Every value of a change's `type`."""


# ---------------------------------------------------------------- scenario
class Base(_Strict):
    """What the scenario starts from: a plant and order book (and optionally a fixed schedule)."""

    plant: str = "demo"
    """A plant file (relative to the scenario file) or a shipped sample name."""
    orders: str | None = None
    """An order book (.csv/.json, relative to the scenario file); default: the plant's own."""
    schedule: str | None = None
    """A schedule JSON to take as the baseline plan instead of planning."""
    generate: TimeValue | None = None
    """With no order book: generate orders from the plant's order stream over this horizon."""
    now: TimeValue = 0.0
    """The plant time the scenario is decided at (rush re-plans freeze work before now + horizon)."""
    until: TimeValue | None = None
    """Simulate up to this plant time (default: until every order is done)."""
    changes: tuple[Change, ...] = ()
    """Changes that are part of the base itself (the baseline includes them)."""


class PlannerSettings(_Strict):
    """How plans are made: CP-SAT (`solve`), a dispatch-rule schedule, or the simulator's rule mode."""

    mode: Literal["solve", "dispatch", "rule"] = "solve"
    baseline: Literal["solve", "dispatch"] | None = None
    """How the baseline plan is made, if not by `mode` (e.g. the floor's EDD plan, rush orders
    then inserted by the CP-SAT re-plan)."""
    objective: Literal["makespan", "tardiness", "mixed"] = "tardiness"
    time_limit: number(0, MAX_TIME_LIMIT, lo_open=True) = 60.0
    """Wall-clock cap of one CP-SAT run (seconds)."""
    work_limit: number(0, MAX_TIME_LIMIT, lo_open=True) | None = 2.0
    """CP-SAT deterministic seconds: the same scenario gives the same plans on any machine load
    (None: wall-clock `time_limit` only, faster but not reproducible)."""
    workers: whole(1, 64) = 2
    rule: str = "EDD"
    """Dispatch rule for `dispatch` and `rule` modes (FIFO, EDD, SPT, ...)."""
    frozen_horizon: TimeValue = 7200.0
    """Rush re-plans keep operations starting before now + this as planned."""
    change_weight: number(0, 1e6) = 1.0


class PolicySettings(_Strict):
    """The acceptance policy of the feasibility check (see twin.verdict.AcceptancePolicy)."""

    min_on_time: float = Field(default=0.9, ge=0, le=1)
    service_level: float | None = Field(default=None, ge=0, le=1)


class CounterOfferSettings(_Strict):
    """How a refused rush variant's counter-offer is searched (see scenarios.counteroffer)."""

    enabled: bool = True
    resolution: TimeValue = 3600.0
    """The offered due time is the earliest accepted one to within this."""
    max_delay: TimeValue = 14 * 86400.0
    """No offer later than the asked date plus this."""


class Judge(_Strict):
    """How variants are judged: replications, seed, planner and acceptance policy."""

    replications: whole(2, MAX_REPLICATIONS) = 10
    seed: int = 0
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    counter_offer: CounterOfferSettings = Field(default_factory=CounterOfferSettings)


class Variant(_Strict):
    """A named set of changes applied together to the base."""

    name: str = Field(min_length=1)
    description: str = ""
    changes: tuple[Change, ...] = Field(min_length=1)


class SweepParameter(_Strict):
    """One swept parameter: a change template whose `field` takes each of `values`."""

    name: str = Field(min_length=1)
    change: Change
    field: str
    values: tuple[Any, ...] = Field(min_length=1)


class Objective(_Strict):
    """The KPI a sweep optimises, and in which direction."""

    kpi: str = "throughput_per_hour"
    goal: Literal["max", "min"] = "max"


class Sweep(_Strict):
    """One or two parameters swept over a grid; every point simulated with the same seeds."""

    parameters: tuple[SweepParameter, ...] = Field(min_length=1, max_length=2)
    objective: Objective = Field(default_factory=Objective)
    changes: tuple[Change, ...] = ()
    """Changes applied at every point before the swept ones."""


class Scenario(_Strict):
    """A what-if scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    base: Base = Field(default_factory=Base)
    judge: Judge = Field(default_factory=Judge)
    changes: tuple[Change, ...] = ()
    """Shorthand for a single variant named after the scenario."""
    variants: tuple[Variant, ...] = ()
    sweep: Sweep | None = None
    expect: Literal["fits", "does_not_fit"] | None = None
    """What the author expects of the verdict (the report says whether it came true)."""

    @model_validator(mode="after")
    def _something(self) -> Scenario:
        if not self.changes and not self.variants and self.sweep is None:
            raise ValueError("a scenario needs 'changes', 'variants' or a 'sweep'")
        return self

    def all_variants(self) -> list[tuple[tuple[str | int, ...], Variant]]:
        """Each variant with the path of its changes in the file (for error lines)."""
        out: list[tuple[tuple[str | int, ...], Variant]] = []
        if self.changes:
            out.append((("changes",), Variant(name=self.name, changes=self.changes)))
        out.extend(((("variants", i, "changes"), v) for i, v in enumerate(self.variants)))
        return out
