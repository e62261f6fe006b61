"""The virtual plant's floor driven by the project's simulator (`sim.model.PlantModel`).

The floor interface the OPC UA server drives: submit / cancel / feed, cumulative `good` and
`reject` per station, station-level records to an observer. The simulator brings the whole
plant behaviour (buffers and blocking, shared resources, materials, setups, calendars,
failures, scrap with remake or rework); this adapter turns its per-machine records into station tags:

- station state = the "busiest" of its machines' states (`STATE_PRIORITY`);
- good/reject counters = the simulator's cumulative station counters on each `unit`;
- current order/operation from `operation_start`; job state Ended on `operation_end`;
- last cycle time = the unit's `cycle_time`; process values sampled per unit here (the
  simulator has none).

A job order (one operation of one order) becomes the order (released now, if new) and a
planned operation on its machine; operations of that order that no job covers are run by
the simulator's dispatch rule. The simulator cannot withdraw planned work, so only a job
not yet started (NotAllowedToStart) can be cancelled.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import simpy

from sim.model import PlantModel
from sync.joborders import Job
from twin.drift import Drift
from twin.live import LiveState, StationLive
from twin.orders import Order
from twin.plant import Plant, ProcessValue
from twin.schedule import ScheduledOperation
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


class SimFloor:
    """`PlantModel` behind the `Floor` interface."""

    def __init__(
        self,
        plant: Plant,
        env: simpy.Environment,
        *,
        seed: int,
        observer: Callable[[Record], None],
        initial_counts: dict[str, tuple[int, int]] | None = None,
        resume: LiveState | None = None,
        drifts: Sequence[Drift] = (),
    ) -> None:
        self.plant = plant
        self.env = env
        self._observer = observer
        counts = initial_counts or {}
        self.good = {s.id: counts.get(s.id, (0, 0))[0] for s in plant.stations}
        self.reject = {s.id: counts.get(s.id, (0, 0))[1] for s in plant.stations}
        self._mstate: dict[tuple[str, int], MachineState] = {
            (s.id, m): MachineState.IDLE for s in plant.stations for m in range(s.machines)
        }
        self._sstate = {s.id: MachineState.IDLE for s in plant.stations}
        self._pvs = ProcessValues(env, random.Random(seed + 7919))
        self._resume = resume
        self.completed_before: frozenset[tuple[str, int]] = (
            resume.completed if resume is not None else frozenset()
        )
        """Operations finished before this floor started (a resumed plant)."""
        self.started: dict[tuple[str, int], float] = (
            {p_.key: p_.started for p_ in resume.in_progress} if resume else {}
        )
        """(order, op_index) -> start time of the operations under way on a machine."""
        self.completed_ops: set[tuple[str, int]] = set()
        """Operations this floor has finished (kept as they end: the ground truth reads it)."""
        live = LiveState(
            time=env.now,
            stations={
                s: StationLive(s, good_count=self.good[s], reject_count=self.reject[s]) for s in self.good
            },
            stock=dict(resume.stock) if resume is not None else {},
        )
        self.on_sim_record: Callable[[dict[str, Any]], None] | None = None
        """Sees every record of the simulator first (the job responses are built from them)."""
        self.model = PlantModel(plant, env, seed=seed, live=live, observer=self._on_record)
        for d in drifts:
            self.model.scale_processing(d.product, d.operation, d.factor)

    def submit(self, job: Job) -> None:
        """Release the job's order (if new) and plan the operation on its machine."""
        station = self.plant.station_map.get(job.station)
        if station is None or not 0 <= job.machine < station.machines:
            raise ValueError(f"job {job.job_id}: no machine {job.machine} at station {job.station!r}")
        now = self.env.now
        op = ScheduledOperation(
            job.order_id,
            job.op_index,
            job.operation,
            job.station,
            job.machine,
            now,
            now,
            quantity=job.quantity,
            transfer_batch=job.transfer_batch,
        )
        self.model.dispatch([op], [Order(job.order_id, job.product, job.quantity, release=now)])

    # ---- job control on the floor ----
    def withdraw(self, job: Job) -> bool:
        """Take a planned operation off its machine before it starts (RevokeStart, Cancel, Update).

        The operation stays reserved at its station: its lot waits there (or, not there yet, will)
        and no machine takes it until it is submitted again. False: a machine has already taken
        it (started, or waiting for its shift), so it cannot be withdrawn.
        """
        st = self.model.stations.get(job.station)
        if st is None:
            return False
        key = job.key
        for m in st.machines:
            if m.lot is not None and m.lot.kind == "main" and m.lot.key == key:
                return False
            kept = deque(sop for sop in m.seq if sop.key != key)
            if len(kept) != len(m.seq):
                m.seq = kept
                self._wake(st)
                return True
        return False

    def pause(self, job: Job) -> bool:
        """Hold the machine working `job` after its current unit (Pause). False: not on a machine."""
        m = self._machine_of(job)
        if m is None or m.hold is not None:
            return False
        m.hold = self.env.event()
        return True

    def resume(self, job: Job) -> bool:
        """Let a paused machine go on (Resume)."""
        m = self._machine_of(job)
        if m is None or m.hold is None:
            return False
        ev, m.hold = m.hold, None
        ev.succeed()
        return True

    def end(self, job: Job, *, abort: bool) -> bool:
        """End the operation of `job` after its current unit: Stop hands the units made on,
        Abort hands nothing on (the lot ends there)."""
        m = self._machine_of(job)
        if m is None:
            return False
        m.cut = "abort" if abort else "stop"
        if m.hold is not None:
            ev, m.hold = m.hold, None
            ev.succeed()
        return True

    def _machine_of(self, job: Job) -> Any:
        st = self.model.stations.get(job.station)
        if st is None:
            return None
        return next((m for m in st.machines if m.lot is not None and m.lot.key == job.key), None)

    @staticmethod
    def _wake(st: Any) -> None:
        for m in list(st.idle):
            st.idle.remove(m)
            ev, m.wake = m.wake, None
            ev.succeed(None)

    def feed(self, orders: list[Order]) -> None:
        """Release orders at their release times; the simulator's dispatch rule routes them. On a
        resumed floor, work the saved state says is done is skipped and work under way goes on."""
        self.model.dispatch((), orders, live=self._resume)

    def stations_live(self) -> dict[str, StationLive]:
        """Each station's state (the busiest of its machines') and cumulative counters now."""
        return {
            s: StationLive(s, state=self._sstate[s], good_count=self.good[s], reject_count=self.reject[s])
            for s in self.good
        }

    def station_state(self, station: str) -> MachineState:
        return self._sstate[station]

    def busy(self) -> bool:
        """True while any unit is queued, blocked or on a machine."""
        return any(self.model.units_in_plant().values())

    def _on_record(self, rec: dict[str, Any]) -> None:
        if self.on_sim_record is not None:
            self.on_sim_record(rec)
        kind = rec["kind"]
        if kind == "state":
            self._machine_state(rec["station"], rec["machine"], MachineState(rec["state"]))
            return
        if kind not in ("operation_start", "unit", "operation_end"):
            return
        station = rec["station"]
        job_id = f"{rec['order_id']}/{rec['op_index']}"
        base = {
            "time": rec["time"],
            "station": station,
            "machine": rec["machine"],
            "job_id": job_id,
            "order_id": rec["order_id"],
            "operation": rec["operation"],
            "quantity": 0,
        }
        if kind == "operation_start":
            key = (rec["order_id"], int(rec["op_index"]))
            self.started.setdefault(key, float(rec["time"]))
            self.completed_ops.discard(key)
            self._observer({**base, "kind": "order_started"})
        elif kind == "operation_end":
            key = (rec["order_id"], int(rec["op_index"]))
            self.started.pop(key, None)
            self.completed_ops.add(key)
            self._observer({**base, "kind": "order_finished"})
        else:
            good, reject = int(rec["good_count"]), int(rec["reject_count"])
            if good != self.good[station]:
                self.good[station] = good
                self._observer({**base, "kind": "produced", "quantity": 1})
            if reject != self.reject[station]:
                self.reject[station] = reject
                self._observer({**base, "kind": "scrapped", "quantity": 1})
            self._observer({**base, "kind": "cycle", "value": float(rec["cycle_time"])})
            for pv in self.plant.station_map[station].process_values:
                value = self._pvs.sample(station, pv)
                self._observer({**base, "kind": "process_value", "value": value, "name": pv.name})

    def _machine_state(self, station: str, machine: int, state: MachineState) -> None:
        self._mstate[(station, machine)] = state
        states = {self._mstate[(station, m)] for m in range(self.plant.station_map[station].machines)}
        agg = next((s for s in STATE_PRIORITY if s in states), state)
        if agg != self._sstate[station]:
            self._sstate[station] = agg
            self._observer(
                {"time": self.env.now, "station": station, "machine": None, "kind": "state", "state": agg}
            )
