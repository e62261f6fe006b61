"""Rush-order re-planning: the floor's present is kept, the rush order is met, moves are reported."""

from __future__ import annotations

import pytest

from planner.replan import replan
from planner.solver import solve
from twin.errors import InputError
from twin.live import LiveState, OperationProgress
from twin.orders import Order

NOW = 33 * 3600.0  # Tuesday 09:00 on the demo plant's clock, mid-shift


@pytest.fixture(scope="module")
def situation(demo_plant, demo_orders):
    plan = solve(demo_plant, demo_orders, objective="tardiness", time_limit=4).schedule
    done = frozenset(o.key for o in plan.operations if o.end <= NOW)
    running = tuple(
        OperationProgress(o.order_id, o.op_index, o.station, o.machine, o.start, 0)
        for o in plan.operations
        if o.start < NOW < o.end
    )
    live = LiveState(time=NOW, in_progress=running, completed=done)
    rush = [Order("RUSH-1", "VALVE", 20, release=NOW, due=NOW + 8 * 3600, weight=1)]
    result = replan(demo_plant, plan, demo_orders, rush, live, frozen_horizon=7200, time_limit=8)
    return plan, live, rush, result


def test_replan_keeps_the_floor_and_meets_the_rush_order(
    demo_plant, demo_orders, situation, feasible
) -> None:
    plan, live, rush, result = situation
    assert result.status in ("OPTIMAL", "FEASIBLE")
    new = {o.key: o for o in result.schedule.operations}
    old = {o.key: o for o in plan.operations}
    assert not (set(new) & live.completed), "finished lots are not planned again"
    assert result.dropped == tuple(sorted(live.completed))
    for p in live.in_progress:
        o = new[(p.order_id, p.op_index)]
        assert (o.station, o.machine, o.start) == (p.station, p.machine, p.started)
    assert live.in_progress, "the fixture should have work under way"
    # frozen lots: same machine, same order on it, and nothing else slips in before them
    assert result.frozen
    for key in result.frozen:
        assert new[key].machine_id == old[key].machine_id
    running_keys = {(p.order_id, p.op_index) for p in live.in_progress}
    for mid, seq in result.schedule.by_machine().items():
        keys = [o.key for o in seq if o.key not in running_keys]
        frozen_here = [k for k in keys if k in result.frozen]
        assert keys[: len(frozen_here)] == sorted(frozen_here, key=lambda k: old[k].start), mid
    # the rush order is planned from now and on time
    assert result.added and all(k[0] == "RUSH-1" for k in result.added)
    assert min(new[k].start for k in result.added) >= NOW
    assert result.schedule.completion()["RUSH-1"] <= rush[0].due
    assert "RUSH-1" not in result.late_orders
    # the report of moves is exactly what changed
    changed = {
        k
        for k in new
        if k in old
        and k not in running_keys
        and (new[k].machine_id != old[k].machine_id or abs(new[k].start - old[k].start) > 0.5)
    }
    assert {(m.order_id, m.op_index) for m in result.moved} == changed
    for m in result.moved:
        assert m.kind == ("machine" if m.old_machine != m.new_machine else "shifted")
    feasible(demo_plant, [*demo_orders, *rush], result.schedule, full=False, fixed=frozenset(running_keys))


def test_rush_order_ids_must_be_new(demo_plant, demo_orders, situation) -> None:
    plan, live, _, _ = situation
    with pytest.raises(InputError, match="already in the order book"):
        replan(demo_plant, plan, demo_orders, [demo_orders[0]], live, time_limit=1)
