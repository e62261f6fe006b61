"""The live state: where the floor is now, as the sync layer knows it and the simulator warm-starts from."""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.states import MachineState


@dataclass(frozen=True)
class StationLive:
    """One station now: PackML state since when, cumulative counters, what it is working on."""

    station: str
    state: MachineState = MachineState.IDLE
    since: float = 0.0
    good_count: int = 0
    reject_count: int = 0
    current_order: str | None = None
    current_operation: str | None = None
    last_cycle_time: float | None = None
    process_values: dict[str, float] = field(default_factory=dict)
    last_heard: float | None = None
    """Plant time the sync client last received a good value for this station."""


@dataclass(frozen=True)
class OperationProgress:
    """An operation under way on a machine: started at `started`, `done_units` already made."""

    order_id: str
    op_index: int
    station: str
    machine: int
    started: float
    done_units: int = 0
    operation: str | None = None
    """The routing operation's id, when the floor said it (job responses do)."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.order_id, self.op_index)


@dataclass(frozen=True)
class QueuedLot:
    """An operation waiting in a station's input buffer (or for room in it): not started yet."""

    order_id: str
    op_index: int
    station: str
    operation: str | None = None


@dataclass(frozen=True)
class LiveState:
    """A snapshot of the floor at plant time `time`.

    `completed` holds (order, op_index) pairs already finished; `queued` the operations
    waiting at a station; `down` maps a machine id ('station/k') to the plant time it went
    down; `stock` is material on hand.
    `stale` is True when the sync client has lost the floor; `last_good` says since when.
    """

    time: float
    stations: dict[str, StationLive] = field(default_factory=dict)
    in_progress: tuple[OperationProgress, ...] = ()
    completed: frozenset[tuple[str, int]] = frozenset()
    queued: tuple[QueuedLot, ...] = ()
    down: dict[str, float] = field(default_factory=dict)
    stock: dict[str, float] = field(default_factory=dict)
    stale: bool = False
    last_good: float | None = None

    @classmethod
    def empty(cls, time: float = 0.0) -> LiveState:
        """An idle plant with nothing started, at `time`."""
        return cls(time=time)
