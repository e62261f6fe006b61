"""The Schedule: one vocabulary for the planner, the simulator, the dispatcher and the dashboard."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScheduledOperation:
    """One operation of one order on one machine.

    The machine is occupied over [start, end): first `setup` seconds of changeover,
    then processing. `machine` is the index (0..n-1) of a parallel machine within
    `station`. `op_index` is the operation's position in the product's routing.
    `transfer_batch`: good units this lot hands on to its next operation together, set by the
    planner (a repair decision); None: the plant's routing step says (`Operation.transfer_batch`,
    by default the whole lot).
    """

    order_id: str
    op_index: int
    operation: str
    station: str
    machine: int
    start: float
    end: float
    setup: float = 0.0
    quantity: int = 1
    transfer_batch: int | None = None

    def __post_init__(self) -> None:
        if self.transfer_batch is not None and self.transfer_batch < 1:
            raise ValueError(
                f"operation {self.key}: transfer_batch must be at least 1, got {self.transfer_batch}"
            )

    def as_dict(self) -> dict[str, Any]:
        """Its fields as a dict; `transfer_batch` only when set (a plan without one keeps the hash
        and the form it had before the field existed)."""
        out = asdict(self)
        if out["transfer_batch"] is None:
            del out["transfer_batch"]
        return out

    @property
    def machine_id(self) -> str:
        return f"{self.station}/{self.machine}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.order_id, self.op_index)


@dataclass(frozen=True)
class Schedule:
    """A plan: operations with machine, start, end and setup, for a plant (by content hash)."""

    operations: tuple[ScheduledOperation, ...]
    plant_hash: str = ""
    created_by: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        ops = tuple(sorted(self.operations, key=lambda o: (o.start, o.station, o.machine)))
        object.__setattr__(self, "operations", ops)
        for op in ops:
            slack = 1e-9 * max(1.0, abs(op.end))  # start + setup + work rounds at large times
            if op.end < op.start or op.setup < 0 or op.setup > op.end - op.start + slack:
                raise ValueError(f"operation {op.key}: bad times start={op.start} end={op.end}")

    @property
    def makespan(self) -> float:
        return max((o.end for o in self.operations), default=0.0)

    def by_machine(self) -> dict[str, list[ScheduledOperation]]:
        """Operations per machine id, in start order (the sequence a machine works)."""
        out: dict[str, list[ScheduledOperation]] = {}
        for op in self.operations:
            out.setdefault(op.machine_id, []).append(op)
        return out

    def by_order(self) -> dict[str, list[ScheduledOperation]]:
        """Operations per order, in routing order."""
        out: dict[str, list[ScheduledOperation]] = {}
        for op in sorted(self.operations, key=lambda o: (o.order_id, o.op_index)):
            out.setdefault(op.order_id, []).append(op)
        return out

    def completion(self) -> dict[str, float]:
        """Planned completion time per order."""
        done: dict[str, float] = {}
        for op in self.operations:
            done[op.order_id] = max(done.get(op.order_id, 0.0), op.end)
        return done

    # ---- serialisation ----
    def to_dict(self) -> dict[str, Any]:
        return {
            "plant_hash": self.plant_hash,
            "created_by": self.created_by,
            "meta": self.meta,
            "operations": [o.as_dict() for o in self.operations],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        """Raises KeyError/TypeError/ValueError on a malformed dict (the loader turns them into
        InputError with the file named)."""
        return cls(
            operations=tuple(ScheduledOperation(**o) for o in data["operations"]),
            plant_hash=data.get("plant_hash", ""),
            created_by=data.get("created_by", ""),
            meta=dict(data.get("meta", {})),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def to_csv(self) -> str:
        buf = io.StringIO()
        fields = list(ScheduledOperation.__dataclass_fields__)
        # The csv module leaves a lone '\r' unquoted when lines end in '\n' (and cannot read it
        # back): quote every text field in that rare case.
        texts = (t for o in self.operations for t in (o.order_id, o.operation, o.station))
        quoting = csv.QUOTE_NONNUMERIC if any("\r" in t for t in texts) else csv.QUOTE_MINIMAL
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", quoting=quoting)
        writer.writeheader()
        for op in self.operations:
            writer.writerow(asdict(op))
        return buf.getvalue()

    def content_hash(self) -> str:
        """SHA-256 over the operations and plant hash (not `meta`): the dispatch gate matches a
        verdict to exactly this plan."""
        payload = json.dumps(
            {"plant": self.plant_hash, "ops": [o.as_dict() for o in self.operations]},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()
