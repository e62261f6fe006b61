"""A small SimPy model of the shop floor that drives the virtual plant.

One process per machine works the jobs handed to it in arrival order: it waits for the
job's previous operation (same order) to finish (Starved meanwhile), changes over
(Setup, by product family), then makes the units one by one (Execute; each unit good or
scrapped by the operation's yield), pausing over off-shift time (Stopped) and breakdowns
(Aborted, from the station's MTBF/MTTR). Every change is reported to `observer` as a flat
record, which the OPC UA server turns into tag values.

This is the virtual plant's own model, not the simulator of `sim/`: it draws from the
same plant data (times, yields, failures, setups, calendars, process values) but runs
work as dispatched, without planning. Scrap is not remade here (the dispatcher would
send a new job for it).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import simpy

from twin.orders import Order
from twin.plant import Plant, ProcessValue
from twin.states import MachineState

Record = dict[str, Any]

# Station state from its machines' states: the first in this list that any machine is in.
STATE_PRIORITY = (
    MachineState.EXECUTE,
    MachineState.SETUP,
    MachineState.ABORTED,
    MachineState.MAINTENANCE,
    MachineState.BLOCKED,
    MachineState.STARVED,
    MachineState.HELD,
    MachineState.STOPPED,
    MachineState.IDLE,
)
CALENDAR_HORIZON = 60 * 86400.0


class ProcessValues:
    """A station's measured values: target + steady drift + an occasional shift of 1.5 sd lasting
    an hour (about one unit in a hundred starts one) + Gaussian noise; something for SPC to find."""

    def __init__(self, env: simpy.Environment, rng: random.Random) -> None:
        self._env = env
        self._rng = rng
        self._shift: dict[tuple[str, str], tuple[float, float]] = {}

    def sample(self, station: str, pv: ProcessValue) -> float:
        now = self._env.now
        until, offset = self._shift.get((station, pv.name), (0.0, 0.0))
        if now >= until:
            offset = 0.0
            if self._rng.random() < 0.01:
                offset = self._rng.choice((-1.5, 1.5)) * pv.sd
                until = now + 3600.0
            self._shift[(station, pv.name)] = (until, offset)
        return pv.target + pv.drift_per_hour * now / 3600.0 + offset + self._rng.gauss(0.0, pv.sd)


@dataclass(frozen=True)
class Job:
    """One operation of one order for one machine (a job order as the floor sees it)."""

    job_id: str
    order_id: str
    product: str
    op_index: int
    operation: str
    station: str
    machine: int
    quantity: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.order_id, self.op_index)


class Floor:
    """The machines of a plant as SimPy processes, reporting to `observer`."""

    def __init__(
        self,
        plant: Plant,
        env: simpy.Environment,
        *,
        seed: int,
        observer: Callable[[Record], None],
        initial_counts: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        self.plant = plant
        self.env = env
        self._rng = random.Random(seed)
        self._observer = observer
        self.good: dict[str, int] = {s.id: 0 for s in plant.stations}
        self.reject: dict[str, int] = {s.id: 0 for s in plant.stations}
        for sid, (g, r) in (initial_counts or {}).items():
            self.good[sid], self.reject[sid] = g, r
        self._queues: dict[tuple[str, int], simpy.Store] = {}
        self._procs: dict[tuple[str, int], simpy.Process] = {}
        self._busy: dict[tuple[str, int], bool] = {}
        self._down: dict[tuple[str, int], simpy.Event | None] = {}
        self._mstate: dict[tuple[str, int], MachineState] = {}
        self._sstate: dict[str, MachineState] = {}
        self._done: dict[tuple[str, int], simpy.Event] = {}
        self._cancelled: set[str] = set()
        self._pvs = ProcessValues(env, self._rng)
        self._calendars = {s.id: plant.working_time(s.id, CALENDAR_HORIZON) for s in plant.stations}
        for station in plant.stations:
            for m in range(station.machines):
                key = (station.id, m)
                self._queues[key] = simpy.Store(env)
                self._busy[key] = False
                self._down[key] = None
                self._mstate[key] = MachineState.IDLE
                self._procs[key] = env.process(self._machine(station.id, m))
                if station.failures is not None:
                    env.process(self._breakdowns(station.id, m))
            self._sstate[station.id] = MachineState.IDLE

    # ---- work in ----
    def submit(self, job: Job) -> None:
        """Hand a job to its machine's queue (it runs after the jobs already there)."""
        key = (job.station, job.machine)
        if key not in self._queues:
            raise ValueError(f"job {job.job_id}: no machine {job.machine} at station {job.station!r}")
        self._done.setdefault(job.key, self.env.event())
        self._queues[key].put(job)

    def cancel(self, job_id: str) -> bool:
        """Drop a job that has not started (a running job finishes); True: it will not run."""
        self._cancelled.add(job_id)
        return True

    def feed(self, orders: list[Order]) -> None:
        """Release orders at their release times and route each operation, when its previous one
        is done, to the eligible machine with the shortest queue (a self-running demo floor)."""
        self.env.process(self._feeder(sorted(orders, key=lambda o: o.release)))

    def _feeder(self, orders: list[Order]) -> Iterator[simpy.Event]:
        for order in orders:
            if order.release > self.env.now:
                yield self.env.timeout(order.release - self.env.now)
            self.env.process(self._flow(order))

    def _flow(self, order: Order) -> Iterator[simpy.Event]:
        product = self.plant.product_map[order.product]
        for i, op in enumerate(product.routing):
            keys = [(s, m) for s in op.stations for m in range(self.plant.station_map[s].machines)]
            station, machine = min(keys, key=lambda k: len(self._queues[k].items) + self._busy[k])
            job = Job(f"{order.id}#{i}", order.id, product.id, i, op.id, station, machine, order.quantity)
            self.submit(job)
            yield self._done[job.key]

    # ---- machines ----
    def _machine(self, station: str, m: int) -> Iterator[simpy.Event]:
        key = (station, m)
        last_family: str | None = None
        st = self.plant.station_map[station]
        while True:
            job: Job = yield self._queues[key].get()
            if job.job_id in self._cancelled:
                self._done[job.key].succeed()
                continue
            prev = (job.order_id, job.op_index - 1)
            if prev in self._done and not self._done[prev].triggered:
                self._set(key, MachineState.STARVED)
                yield self._done[prev]
            product = self.plant.product_map[job.product]
            op = product.routing[job.op_index]
            self._busy[key] = True
            self._emit(station, m, "order_started", job)
            setup = st.setups.time(last_family, product.setup_family)
            last_family = product.setup_family
            if setup > 0:
                yield from self._work(key, setup, MachineState.SETUP)
            for unit in range(job.quantity):
                began = self.env.now
                work = op.time.sample(self._rng) + (op.batch_time if unit == 0 else 0.0)
                yield from self._work(key, work, MachineState.EXECUTE)
                good = self._rng.random() < op.yield_
                if good:
                    self.good[station] += 1
                else:
                    self.reject[station] += 1
                self._emit(station, m, "produced" if good else "scrapped", job, quantity=1)
                self._emit(station, m, "cycle", job, value=self.env.now - began)
                for pv in st.process_values:
                    self._emit(
                        station, m, "process_value", job, value=self._pvs.sample(station, pv), name=pv.name
                    )
            self._emit(station, m, "order_finished", job)
            self._done[job.key].succeed()
            self._busy[key] = False
            self._set(key, MachineState.IDLE)

    def _work(self, key: tuple[str, int], seconds: float, state: MachineState) -> Iterator[simpy.Event]:
        """Spend `seconds` of working time in `state`, pausing off shift and while broken."""
        calendar = self._calendars[key[0]]
        remaining = seconds
        while remaining > 1e-9:
            down = self._down[key]
            if down is not None:
                self._set(key, MachineState.ABORTED)
                yield down
                continue
            now = self.env.now
            if not calendar.is_working(now):
                self._set(key, MachineState.STOPPED)
                yield self.env.timeout(calendar.next_working(now) - now)
                continue
            self._set(key, state)
            run = min(remaining, calendar.next_off(now) - now)
            try:
                yield self.env.timeout(run)
                remaining -= run
            except simpy.Interrupt:
                remaining -= self.env.now - now

    def _breakdowns(self, station: str, m: int) -> Iterator[simpy.Event]:
        failures = self.plant.station_map[station].failures
        assert failures is not None
        key = (station, m)
        while True:
            yield self.env.timeout(failures.mtbf.sample(self._rng))
            repaired = self.env.event()
            self._down[key] = repaired
            before = self._mstate[key]
            if self._busy[key] and before not in (MachineState.STARVED, MachineState.STOPPED):
                self._procs[key].interrupt("breakdown")
            self._set(key, MachineState.ABORTED)
            yield self.env.timeout(failures.mttr.sample(self._rng))
            self._down[key] = None
            repaired.succeed()
            if not self._busy[key]:
                self._set(key, MachineState.IDLE)

    # ---- reporting ----
    def _set(self, key: tuple[str, int], state: MachineState) -> None:
        if self._mstate[key] == state:
            return
        self._mstate[key] = state
        station = key[0]
        states = {self._mstate[(station, m)] for m in range(self.plant.station_map[station].machines)}
        agg = next(s for s in STATE_PRIORITY if s in states)
        if agg != self._sstate[station]:
            self._sstate[station] = agg
            self._observer(
                {"time": self.env.now, "station": station, "machine": None, "kind": "state", "state": agg}
            )

    def _emit(self, station: str, m: int, kind: str, job: Job, **extra: Any) -> None:
        self._observer(
            {
                "time": self.env.now,
                "station": station,
                "machine": m,
                "kind": kind,
                "job_id": job.job_id,
                "order_id": job.order_id,
                "operation": job.operation,
                "quantity": extra.pop("quantity", 0),
                **extra,
            }
        )

    def station_state(self, station: str) -> MachineState:
        return self._sstate[station]

    def busy(self) -> bool:
        """True while any job is queued or being worked."""
        return any(q.items for q in self._queues.values()) or any(self._busy.values())
