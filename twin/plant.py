"""The plant model (ISA-95 equipment, products, routings, resources, materials), as validated data.

A plant is written in YAML and loaded by `twin.loader.load_plant`; these frozen
pydantic models are both the schema users write against (`extra="forbid"`, so a
misspelt key is an error, not a silent default) and the entities the core uses.
Hierarchy: site > area > line > station (work unit); a station has 1..n
identical parallel machines. Times are seconds (or duration strings) and plant
times are seconds from `epoch`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twin import bounds as B
from twin.bounds import number, out_of_range, whole
from twin.calendar import CalendarSpec, WorkingTime
from twin.distributions import Deterministic, Dist, check_duration
from twin.timeutil import parse_duration, parse_time

_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
TAG_PREFIXES = ("ns=", "nsu=", "i=", "s=", "g=", "b=", "browse:")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)


def _duration(value: Any) -> float:
    return check_duration(value)


def _opt_duration(value: Any) -> float | None:
    return None if value is None else check_duration(value)


_PROBE_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _time_ref(value: Any) -> float | str:
    """A plant time as written (seconds, a duration after the epoch, or an ISO datetime), checked
    now so a typo is a load error rather than a crash when the time is first used. An unquoted
    YAML timestamp arrives as a datetime and is kept as its ISO string."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            parse_time(value, _PROBE_EPOCH)
        except ValueError:
            raise ValueError(
                f"cannot read time {value!r}: use an ISO datetime like '2026-12-02T06:00:00+01:00', "
                "or seconds / a duration ('36h') after the plant epoch"
            ) from None
        return value.strip()
    seconds = parse_duration(value)
    if seconds > B.MAX_TIME_OFFSET:
        raise ValueError(out_of_range(value, f"a time at most {B.years(B.MAX_TIME_OFFSET)} after the epoch"))
    return seconds


def _opt_time_ref(value: Any) -> float | str | None:
    return None if value is None else _time_ref(value)


class Failures(_Model):
    """Time-based breakdowns: time between failures and time to repair, per machine."""

    mtbf: Dist
    mttr: Dist

    @model_validator(mode="after")
    def _positive(self) -> Failures:
        if self.mtbf.mean < B.MIN_MTBF:
            expected = f"a mean time between failures of at least {B.MIN_MTBF:g} s"
            raise ValueError(f"mtbf: {out_of_range(self.mtbf.mean, expected)}")
        if self.mttr.mean <= 0:
            raise ValueError("mttr: got a mean of 0, expected a positive time")
        return self

    @property
    def availability(self) -> float:
        """Steady-state fraction of time up: MTBF / (MTBF + MTTR)."""
        return self.mtbf.mean / (self.mtbf.mean + self.mttr.mean)


class Maintenance(_Model):
    """A planned maintenance window, optionally repeating `every` period until `until`."""

    start: float | str
    duration: float
    every: float | None = None
    until: float | str | None = None
    reason: str = "planned maintenance"

    _d = field_validator("duration", mode="before")(_duration)
    _e = field_validator("every", mode="before")(_opt_duration)
    _s = field_validator("start", mode="before")(_time_ref)
    _u = field_validator("until", mode="before")(_opt_time_ref)

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(out_of_range(value, "a positive duration"))
        return value

    @field_validator("every")
    @classmethod
    def _positive_period(cls, value: float | None) -> float | None:
        if value is not None and value < B.MIN_PERIOD:
            raise ValueError(
                out_of_range(value, f"a period 'every' of at least {B.MIN_PERIOD / 60:g} minutes")
            )
        return value

    @model_validator(mode="after")
    def _period_holds_window(self) -> Maintenance:
        if self.every is not None and self.every < self.duration:
            raise ValueError(f"'every' ({self.every:g} s) is shorter than the window ({self.duration:g} s)")
        return self


class Setups(_Model):
    """Sequence-dependent changeovers between product families on a station.

    `matrix[from_family][to_family]` in seconds; a pair not listed takes
    `default` (0 within a family unless listed). `initial` is the setup before
    the first job of a run, from an unknown state.
    """

    default: float = 0.0
    initial: float = 0.0
    matrix: dict[str, dict[str, float]] = Field(default_factory=dict)

    _d = field_validator("default", "initial", mode="before")(_duration)

    @field_validator("matrix", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                a: ({b: check_duration(t) for b, t in row.items()} if isinstance(row, dict) else row)
                for a, row in value.items()
            }
        return value

    def time(self, from_family: str | None, to_family: str) -> float:
        """Changeover time from one family to another (None: the station's first job)."""
        if from_family is None:
            return self.initial
        row = self.matrix.get(from_family)
        if row is not None and to_family in row:
            return row[to_family]
        return 0.0 if from_family == to_family else self.default


class ProcessValue(_Model):
    """A measured process value of a station (for SPC): nominal value, noise and limits."""

    name: str
    unit: str = ""
    target: number(-B.MAX_PROCESS_VALUE, B.MAX_PROCESS_VALUE)
    sd: number(0, B.MAX_PROCESS_VALUE, lo_open=True)
    lsl: number(-B.MAX_PROCESS_VALUE, B.MAX_PROCESS_VALUE) | None = None
    usl: number(-B.MAX_PROCESS_VALUE, B.MAX_PROCESS_VALUE) | None = None
    drift_per_hour: number(-B.MAX_PROCESS_VALUE, B.MAX_PROCESS_VALUE) = 0.0


class TagMap(_Model):
    """OPC UA node ids of a station's tags: 'ns=2;s=..', 'nsu=URI;s=..', 'i=..', or 'browse:A/B/C'.

    A tag written as null is left out (the machine has no such tag: what needs it is not
    measured); a tag not written follows the naming convention (`Plant.tag_map`).
    """

    state: str | None = None
    good_count: str | None = None
    reject_count: str | None = None
    current_order: str | None = None
    current_operation: str | None = None
    cycle_time: str | None = None
    process_values: dict[str, str | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _node_ids(self) -> TagMap:
        refs = [v for v in self.model_dump(exclude={"process_values"}).values() if v]
        for ref in [*refs, *(v for v in self.process_values.values() if v is not None)]:
            if not ref.startswith(TAG_PREFIXES):
                raise ValueError(
                    f"tag {ref!r} is not a node id: use 'ns=2;s=..', 'nsu=URI;s=..', 'i=..' "
                    "or 'browse:Path/To/Node'"
                )
        return self


class Station(_Model):
    """A work unit: 1..n identical machines, an input buffer, failures, setups, tags."""

    id: str = Field(pattern=_ID)
    name: str = ""
    machines: whole(1, B.MAX_MACHINES) = 1
    calendar: str | None = None
    buffer: whole(0, B.MAX_BUFFER) | None = None
    failures: Failures | None = None
    maintenance: tuple[Maintenance, ...] = ()
    setups: Setups = Field(default_factory=Setups)
    tags: TagMap | None = None
    process_values: tuple[ProcessValue, ...] = ()


class Line(_Model):
    """A production line: stations in flow order and the calendar they follow by default."""

    id: str = Field(pattern=_ID)
    name: str = ""
    area: str = "main"
    calendar: str | None = None
    stations: tuple[Station, ...] = Field(min_length=1)


class ResourcePool(_Model):
    """A secondary resource: operators of a skill, tools, molds, fixtures."""

    id: str = Field(pattern=_ID)
    capacity: whole(1, B.MAX_CAPACITY)
    kind: str = "operator"


class Delivery(_Model):
    """A scheduled receipt of a material."""

    at: float | str
    quantity: number(0, B.MAX_AMOUNT, lo_open=True)

    _a = field_validator("at", mode="before")(_time_ref)


class Replenishment(_Model):
    """Reorder-point replenishment: order `quantity` when stock falls to `reorder_point`."""

    reorder_point: number(0, B.MAX_AMOUNT)
    quantity: number(0, B.MAX_AMOUNT, lo_open=True)
    lead_time: float

    _l = field_validator("lead_time", mode="before")(_duration)


class Material(_Model):
    """A component consumed by operations; a missing component starves the station."""

    id: str = Field(pattern=_ID)
    unit: str = "pcs"
    stock: number(0, B.MAX_AMOUNT) = 0
    deliveries: tuple[Delivery, ...] = ()
    replenishment: Replenishment | None = None
    tag: str | None = None
    """OPC UA node of the stock level on the floor (a number); default 'nsu=URI;s=Stock.<id>'."""

    @field_validator("tag")
    @classmethod
    def _node_id(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(TAG_PREFIXES):
            raise ValueError(
                f"tag {value!r} is not a node id: use 'ns=2;s=..', 'nsu=URI;s=..', 'i=..' "
                "or 'browse:Path/To/Node'"
            )
        return value


class Rework(_Model):
    """Defective units that are reworked (sent back to operation `to`) instead of scrapped."""

    to: str
    share: number(0, 1, lo_open=True) = 1.0


class Operation(_Model):
    """One step of a routing: eligible stations, time per unit (+ fixed time per batch).

    `transfer_batch`: good units handed on to the next operation together (a container, a
    conveyor load). None: the whole lot moves on when its last unit is done. With a transfer
    batch the next operation may start once the first batch has arrived (docs/simulator.md).
    It is a property of the routing step on this floor; a plan may set a smaller one per lot
    (`ScheduledOperation.transfer_batch`, a repair decision of the planner).
    """

    id: str = Field(pattern=_ID)
    stations: tuple[str, ...] = Field(min_length=1)
    time: Dist
    batch_time: float = 0.0
    yield_: number(B.MIN_YIELD, 1) = Field(default=1.0, alias="yield")
    rework: Rework | None = None
    resources: dict[str, whole(1, B.MAX_CAPACITY)] = Field(default_factory=dict)
    consumes: dict[str, number(0, B.MAX_AMOUNT, lo_open=True)] = Field(default_factory=dict)
    transfer_batch: whole(1, B.MAX_QUANTITY) | None = None

    _b = field_validator("batch_time", mode="before")(_duration)

    @model_validator(mode="after")
    def _takes_time(self) -> Operation:
        if self.time.mean <= 0 and self.batch_time <= 0:
            raise ValueError("time: got 0, expected a positive processing time (or a batch_time)")
        return self

    @field_validator("stations", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    def mean_time(self, quantity: int) -> float:
        """Expected processing time of a batch of `quantity` units (no setup)."""
        return self.batch_time + quantity * self.time.mean


class Product(_Model):
    """A product: its family (for setups) and routing (ordered operations)."""

    id: str = Field(pattern=_ID)
    name: str = ""
    family: str = ""
    routing: tuple[Operation, ...] = Field(min_length=1)

    @property
    def setup_family(self) -> str:
        return self.family or self.id


class OrderStream(_Model):
    """Orders arriving at random: inter-arrival time, product mix, quantity, due-date allowance."""

    interarrival: Dist
    mix: dict[str, number(0, 1e6, lo_open=True)] = Field(min_length=1)
    quantity: Dist = Field(default_factory=lambda: Deterministic(value=1))  # type: ignore[arg-type]
    due_after: float = 86400.0
    weight: number(0, B.MAX_WEIGHT, lo_open=True) = 1.0

    _d = field_validator("due_after", mode="before")(_duration)

    @model_validator(mode="after")
    def _sane(self) -> OrderStream:
        if self.interarrival.mean < B.MIN_INTERARRIVAL:
            expected = f"a mean inter-arrival time of at least {B.MIN_INTERARRIVAL:g} s"
            raise ValueError(f"interarrival: {out_of_range(self.interarrival.mean, expected)}")
        if not 1 <= self.quantity.mean <= B.MAX_QUANTITY:
            raise ValueError(
                f"quantity: {out_of_range(self.quantity.mean, f'a mean from 1 to {B.MAX_QUANTITY:,} units')}"
            )
        return self


class OpcUaSettings(_Model):
    """Where the plant's tags live: the namespace URI used when a station has no tag map."""

    namespace_uri: str = "urn:plantwin:plant"
    job_responses: str | None = None
    """Browse path (from Objects) of the job response provider; default '<site>/JobOrderResults'."""


class Settings(_Model):
    """Plant-wide behaviour the simulator and planner agree on."""

    operations_span_breaks: bool = True
    """True: an operation pauses over a break or shift end and resumes (work is preemptible by
    the calendar). False: an operation must fit wholly inside one working interval."""
    scrap_policy: Literal["remake", "short"] = "remake"
    """remake: scrapped units are made again (a new batch from the first operation);
    short: the order completes short."""


class Plant(_Model):
    """A whole plant: the root of the YAML file."""

    name: str = Field(pattern=_ID)
    description: str = ""
    epoch: datetime
    site: str = "site"
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    lines: tuple[Line, ...] = Field(min_length=1)
    products: tuple[Product, ...] = Field(min_length=1)
    resources: tuple[ResourcePool, ...] = ()
    materials: tuple[Material, ...] = ()
    orders: str | None = None
    """Path (relative to the plant file) of the order book that ships with it."""
    order_stream: OrderStream | None = None
    opcua: OpcUaSettings = Field(default_factory=OpcUaSettings)
    settings: Settings = Field(default_factory=Settings)

    @field_validator("epoch")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"got {value.isoformat()}, expected a time zone, e.g. 2026-11-30T00:00:00+01:00")
        if not B.EPOCH_MIN <= value < B.EPOCH_MAX:
            raise ValueError(
                out_of_range(value.isoformat(), f"an epoch from {B.EPOCH_MIN.year} to {B.EPOCH_MAX.year - 1}")
            )
        return value

    # ---- lookups (derived once; the model is frozen) ----
    @cached_property
    def station_map(self) -> dict[str, Station]:
        return {s.id: s for line in self.lines for s in line.stations}

    @cached_property
    def line_of(self) -> dict[str, Line]:
        return {s.id: line for line in self.lines for s in line.stations}

    @cached_property
    def product_map(self) -> dict[str, Product]:
        return {p.id: p for p in self.products}

    @cached_property
    def resource_map(self) -> dict[str, ResourcePool]:
        return {r.id: r for r in self.resources}

    @cached_property
    def material_map(self) -> dict[str, Material]:
        return {m.id: m for m in self.materials}

    @property
    def stations(self) -> list[Station]:
        return [s for line in self.lines for s in line.stations]

    def calendar_name(self, station_id: str) -> str | None:
        """The calendar a station follows: its own, else its line's, else none (always on)."""
        return self.station_map[station_id].calendar or self.line_of[station_id].calendar

    def working_time(self, station_id: str, horizon: float) -> WorkingTime:
        """The station's compiled working intervals over [0, horizon)."""
        name = self.calendar_name(station_id)
        if name is None:
            return WorkingTime.always()
        return self.calendars[name].compile(self.epoch, horizon)

    def tag_map(self, station_id: str) -> TagMap:
        """The station's tags: as written, else the convention 'nsu=URI;s=Line.Station.Tag'."""
        station = self.station_map[station_id]
        line = self.line_of[station_id]
        uri = self.opcua.namespace_uri
        base = f"nsu={uri};s={line.id}.{station.id}"
        default = TagMap(
            state=f"{base}.State",
            good_count=f"{base}.GoodCount",
            reject_count=f"{base}.RejectCount",
            current_order=f"{base}.CurrentOrder",
            current_operation=f"{base}.CurrentOperation",
            cycle_time=f"{base}.LastCycleTime",
            process_values={pv.name: f"{base}.{pv.name}" for pv in station.process_values},
        )
        if station.tags is None:
            return default
        given = station.tags.model_dump(exclude_none=True)
        merged = default.model_dump()
        merged.update({k: v for k, v in given.items() if v not in ({}, None)})
        for name in station.tags.model_fields_set - {"process_values"}:  # written as null: left out
            if getattr(station.tags, name) is None:
                merged[name] = None
        merged["process_values"] = {**default.process_values, **station.tags.process_values}
        return TagMap.model_validate(merged)

    def stock_tag(self, material_id: str) -> str:
        """The node of a material's stock level: as written, else 'nsu=URI;s=Stock.<id>'."""
        tag = self.material_map[material_id].tag
        return tag or f"nsu={self.opcua.namespace_uri};s=Stock.{material_id}"

    def content_hash(self) -> str:
        """SHA-256 of the plant's canonical JSON: equal plants, equal hash."""
        data = self.model_dump(mode="json", by_alias=True)
        # fields added later are left out while unset, so a plant written before keeps its hash
        # (verdicts in the history are found by it)
        for product in data.get("products", ()):
            for op in product.get("routing", ()):
                if op.get("transfer_batch") is None:
                    op.pop("transfer_batch", None)
        payload = json.dumps(data, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()
