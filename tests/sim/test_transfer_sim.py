"""Transfer batches on the simulated floor: units are conserved through scrap, rework and
re-makes, and a split lot's next operation starts on its first batch (deterministic case)."""

from __future__ import annotations

import pytest

from sim import simulate
from twin.orders import Order

SCRAPPY = """
lines:
  - id: L
    stations:
      - {id: a, buffer: 1}
      - {id: b}
      - {id: c}
products:
  - id: p
    routing:
      - {id: o1, stations: a, time: {exponential: 10}, yield: 0.8, transfer_batch: 3}
      - {id: o2, stations: b, time: {exponential: 8}, yield: 0.9, transfer_batch: 2}
      - {id: o3, stations: c, time: {exponential: 9}, yield: 0.9, rework: {to: o2, share: 0.5}}
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_units_are_conserved_through_scrap_rework_and_remakes(make_plant, seed: int) -> None:
    plant = make_plant(SCRAPPY, scrap_policy="remake")
    orders = [Order(f"O{i}", "p", 12, 0, 1e6) for i in range(4)]
    res = simulate(plant, orders, seed=seed)
    assert res.orders["completion"].notna().all()  # every order done
    done = res.orders.set_index("order_id")
    ops = res.operations
    for oid in done.index:
        mine = ops[ops["order_id"] == oid]
        units = [mine[mine["op_index"] == k] for k in range(3)]
        # every good unit of o2 is worked at o3, and nothing else is: a split lot's quantity
        # there is what came good, not what it started with
        assert units[1]["good"].sum() == units[2]["quantity"].sum()
        # o2 works o1's good units plus the reworked ones coming back from o3
        assert units[0]["good"].sum() <= units[1]["quantity"].sum()
        last = units[2]
        assert last["good"].sum() >= 12


def test_a_split_lot_starts_downstream_with_its_first_batch(make_plant) -> None:
    plant = make_plant(
        """
        lines:
          - id: L
            stations:
              - {id: a}
              - {id: b}
        products:
          - id: p
            routing:
              - {id: o1, stations: a, time: 10, transfer_batch: 4}
              - {id: o2, stations: b, time: 6}
        """
    )
    res = simulate(plant, [Order("A", "p", 10, 0, 1e6)])
    rows = res.operations.sort_values("op_index")
    assert rows["start"].tolist() == [0.0, 40.0]  # b starts when the first 4 units arrive
    assert rows["end"].tolist() == [100.0, 116.0]
    assert rows["quantity"].tolist() == [10, 10]
    starved = res.states[(res.states["station"] == "b") & (res.states["state"] == "Starved")]
    assert starved["end"].sub(starved["start"]).sum() == pytest.approx(116 - 40 - 60)


def test_units_in_the_plant_are_counted_once_while_lots_move_in_batches(make_plant) -> None:
    from sim.model import PlantModel

    plant = make_plant(SCRAPPY, scrap_policy="remake")
    orders = [Order(f"O{i}", "p", 12, 60.0 * i, 1e6) for i in range(6)]
    for until in (150.0, 400.0, 700.0, None):
        model = PlantModel(plant, orders=orders, seed=4)
        model.run(until)
        res = model.result(until if until is not None else model.env.now)
        inside = model.units_in_plant()
        finished, scrapped = int(res.kpis["units_good"]), int(res.kpis["units_scrapped"])
        assert model.units_entered == finished + scrapped + sum(inside.values()), (until, inside)
