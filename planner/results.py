"""What the planner returns: typed results of a solve, a re-plan and the plan-simulate-repair loop."""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.schedule import Schedule
from twin.verdict import Verdict


@dataclass(frozen=True)
class PlanResult:
    """A schedule and how good it is.

    `objective` and `bound` are in seconds (weighted seconds for tardiness; weights as given
    on the orders); `gap` = (objective - bound) / objective (0 when proven optimal, None
    when unknown). `late_orders` are the ids of orders planned to finish after their due.
    `seconds` is the wall time of the solve; `time_to_best` when the final solution was found.
    """

    schedule: Schedule
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    late_orders: tuple[str, ...]
    makespan: float
    time_to_best: float | None = None
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, object]:
        """A flat, JSON-ready summary (no operations)."""
        return {
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": self.seconds,
            "time_to_best": self.time_to_best,
            "makespan": self.makespan,
            "late_orders": list(self.late_orders),
            "operations": len(self.schedule.operations),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Move:
    """How one lot of the previous plan changed in a re-plan.

    kind: "machine" (moved to another machine, maybe also in time) or "shifted" (same machine,
    other start). Times are plant seconds; `shift` = new_start - old_start.
    """

    order_id: str
    op_index: int
    kind: str
    old_machine: str
    new_machine: str
    old_start: float
    new_start: float

    @property
    def shift(self) -> float:
        return self.new_start - self.old_start


@dataclass(frozen=True)
class ReplanResult(PlanResult):
    """A re-plan: the PlanResult fields, plus what moved, what was frozen and what is new."""

    moved: tuple[Move, ...] = ()
    frozen: tuple[tuple[str, int], ...] = ()
    added: tuple[tuple[str, int], ...] = ()
    dropped: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class IterationReport:
    """One pass of the plan -> simulate -> repair loop."""

    iteration: int
    plan: PlanResult
    verdict: Verdict
    changes: tuple[str, ...]
    """What was changed before this plan (empty for the first)."""
    on_time: dict[str, float]
    """On-time probability per order in this iteration's verdict."""
    failing: tuple[str, ...]
    """Orders below the policy's minimum on-time probability."""
    causes: dict[str, str] = field(default_factory=dict)
    """Per failing order: the cause the verdict blames most (e.g. "queue:cnc1", "breakdown", "material")."""
    objective: str = "tardiness"
    """What this pass's plan minimised ("tardiness", or "on-time": late orders first)."""
    best: int = 0
    """The best pass so far, this one included (the loop never returns a worse one)."""
    note: str = ""
    """How this pass compares with the best before it, and for one that did not improve, why
    and what the next pass does instead."""


@dataclass(frozen=True)
class LoopResult:
    """The loop's answer: the best pass's schedule and verdict, whether it passed, every iteration."""

    schedule: Schedule
    verdict: Verdict
    accepted: bool
    iterations: tuple[IterationReport, ...]
    reason: str
    """Why the loop stopped: accepted, or the evidence that nothing within the limits passes."""
