"""The virtual plant's own view of its floor, read from the simulator's state: the ground truth
that the live state built from OPC UA alone (`sync.livestate`) must equal, and what the plant
saves to resume after a restart.

Completed: operations the simulator has finished (plus those finished before a resume). In
progress: operations started on a machine, with the units the machine has made (`Machine.done`).
Queued: main lots at a station that have not started there (`responses.waiting_lots`). Down:
machines in state Aborted (a breakdown), since when.
"""

from __future__ import annotations

from typing import Any

from sync.virtual.responses import waiting_lots
from twin.live import LiveState, OperationProgress, QueuedLot
from twin.states import MachineState


def floor_state(floor: Any) -> LiveState:
    """The ground truth of a `SimFloor` now (stations' states and counters included)."""
    model = floor.model
    started: dict[tuple[str, int], float] = floor.started
    running: list[OperationProgress] = []
    down: dict[str, float] = {}
    for st in model.stations.values():
        for m in st.machines:
            lot, done = m.lot, m.done
            if lot is None and m.start is not None:  # a warm start its machine has not taken up yet
                lot, done = m.start
            if lot is not None and lot.kind == "main" and lot.key in started:
                running.append(
                    OperationProgress(
                        order_id=lot.key[0],
                        op_index=lot.key[1],
                        station=st.id,
                        machine=m.index,
                        started=started[lot.key],
                        done_units=done,
                        operation=lot.order.info[lot.op_index].id,
                    )
                )
            if m.state == MachineState.ABORTED.value:
                down[m.id] = m.since
    busy = {(p.order_id, p.op_index) for p in running}
    done = floor.completed_ops | set(floor.completed_before)
    queued = []
    for order_id, op_index, station in waiting_lots(model, busy):
        os_ = model.orders[order_id]
        queued.append(QueuedLot(order_id, op_index, station, os_.info[op_index].id))
    stock = {mid: float(mat.stock) for mid, mat in model.materials.items()}
    return LiveState(
        time=float(model.env.now),
        stations=floor.stations_live(),
        in_progress=tuple(sorted(running, key=lambda p: (p.station, p.machine))),
        completed=frozenset(done - busy),
        queued=tuple(sorted(queued, key=lambda q: (q.station, q.order_id, q.op_index))),
        down=down,
        stock=stock,
    )
