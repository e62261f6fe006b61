"""Reorder-point replenishment as the simulator plays it, for the planner's model and heuristics.

The rule (docs/plant-model.md, `sim.supplies.Material`): when a material's stock falls
to its reorder point and no reorder is outstanding, `quantity` is ordered; it arrives
`lead_time` later; a stock still at or below the point then orders again at once.

A lot *allocates* its material when it arrives at the operation's station (in the plan:
when its routing predecessor ends, or at its release) and *takes* it as one kit when
it starts; the rule reads the stock not yet allocated. So a lot that needs more than
the stock triggers the reorder by arriving, and starts when the kit is there.

`triggers` replays the rule on given allocations: the dispatch rules place lots with it
and the CP-SAT hint takes its reorder times from it; `planner.model` states the same rule
as constraints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def triggers(
    fixed: Sequence[tuple[int, int]],
    allocated: Iterable[tuple[int, int]],
    *,
    point: int,
    quantity: int,
    lead: int,
    count: int,
    origin: int,
) -> list[int]:
    """The times reorders are placed (at most `count`): the first t >= the previous arrival (or
    `origin`) where fixed supply up to t + the earlier reorders - the allocations by t <= point."""
    fixed_steps = sorted(fixed)
    draw_steps = sorted(allocated)
    times = sorted({t for t, _ in fixed_steps} | {t for t, _ in draw_steps} | {origin})
    out: list[int] = []
    earliest = origin
    for k in range(count):
        found = None
        for t in [earliest, *(x for x in times if x > earliest)]:
            level = (
                sum(q for x, q in fixed_steps if x <= t)
                + k * quantity
                - sum(q for x, q in draw_steps if x <= t)
            )
            if level <= point:
                found = t
                break
        if found is None:
            break
        out.append(found)
        earliest = found + lead
    return out
