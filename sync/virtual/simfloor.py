"""The virtual plant's floor driven by the project's simulator (`sim.model.PlantModel`).

Same interface as `sync.virtual.floor.Floor` (submit / cancel / feed, cumulative `good` and
`reject` per station, station-level records to an observer), so the OPC UA server does
not care which one runs. The simulator brings the whole plant behaviour (buffers and
blocking, shared resources, materials, setups, calendars, failures, scrap with remake or
rework); this adapter turns its per-machine records into station tags:

- station state = the "busiest" of its machines' states (`floor.STATE_PRIORITY`);
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
from collections.abc import Callable, Sequence
from typing import Any

import simpy

from sim.model import PlantModel
from sync.virtual.floor import STATE_PRIORITY, Job, ProcessValues, Record
from twin.drift import Drift
from twin.live import LiveState, StationLive
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import ScheduledOperation
from twin.states import MachineState


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
        live = LiveState(
            time=env.now,
            stations={
                s: StationLive(s, good_count=self.good[s], reject_count=self.reject[s]) for s in self.good
            },
        )
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
        )
        self.model.dispatch([op], [Order(job.order_id, job.product, job.quantity, release=now)])

    def cancel(self, job_id: str) -> bool:
        """Planned work cannot be withdrawn from the simulator: False (the job runs)."""
        return False

    def feed(self, orders: list[Order]) -> None:
        """Release orders at their release times; the simulator's dispatch rule routes them."""
        self.model.dispatch((), orders)

    def station_state(self, station: str) -> MachineState:
        return self._sstate[station]

    def busy(self) -> bool:
        """True while any unit is queued, blocked or on a machine."""
        return any(self.model.units_in_plant().values())

    def _on_record(self, rec: dict[str, Any]) -> None:
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
            self._observer({**base, "kind": "order_started"})
        elif kind == "operation_end":
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
