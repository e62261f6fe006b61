"""Static capacity report on a tiny plant worked out by hand, and on the textbook samples."""

from __future__ import annotations

import pytest

from twin.capacity import capacity_for_orders, capacity_for_stream
from twin.loader import plant_from_text
from twin.orders import Order
from twin.plant import Plant

H = 3600.0
# Monday 2026-11-30 00:00 UTC is plant second 0. One shift 08:00-16:00 with a 30 min break:
# 7.5 working hours a day. Station A: 2 machines, availability 9h / (9h + 1h) = 0.9. Station B:
# one machine, a 1 h maintenance on Monday 08:00 and one on Monday night (costs no capacity).
# Station C: 3 machines, an alternative to B for op2 (B gets 1/4 of op2, C 3/4).
TINY = """\
name: tiny
epoch: 2026-11-30T00:00:00+00:00
calendars:
  day:
    shifts: [{days: mon-fri, start: "08:00", end: "16:00", breaks: [{start: "12:00", end: "12:30"}]}]
lines:
  - id: L
    calendar: day
    stations:
      - {id: A, machines: 2, failures: {mtbf: 9h, mttr: 1h}}
      - id: B
        maintenance:
          - {start: "2026-11-30T08:00:00+00:00", duration: 1h}
          - {start: "2026-11-30T20:00:00+00:00", duration: 4h}
      - {id: C, machines: 3}
products:
  - id: P
    routing:
      - {id: op1, stations: A, time: 60, batch_time: 10m}
      - {id: op2, stations: [B, C], time: {exponential: 120}, yield: 0.8}
      - {id: op3, stations: B, time: 30}
"""


@pytest.fixture(scope="module")
def tiny() -> Plant:
    plant, warnings = plant_from_text(TINY, "tiny.yaml")
    assert warnings == []
    return plant


def test_tiny_plant_by_hand(tiny: Plant) -> None:
    # One order of 100, Monday 08:00 to Tuesday 16:00: two shifts of 7.5 h = 54000 s.
    report = capacity_for_orders(tiny, [Order("O1", "P", 100, release=8 * H, due=40 * H)])
    assert report.window == (8 * H, 40 * H)
    loads = {s.station: s for s in report.stations}
    # op2 scraps 20% and scrap is re-made: 125 units pass op1 and op2, 100 pass op3.
    assert loads["A"].demand == pytest.approx(600 + 125 * 60)  # 8100
    assert loads["B"].demand == pytest.approx(125 * 120 / 4 + 100 * 30)  # 3750 + 3000
    assert loads["C"].demand == pytest.approx(125 * 120 * 3 / 4)  # 11250
    assert loads["A"].available == pytest.approx(54000 * 2 * 0.9)
    assert loads["B"].available == pytest.approx(54000 - 3600)
    assert loads["C"].available == pytest.approx(54000 * 3)
    assert loads["B"].load == pytest.approx(6750 / 50400)
    assert report.bottleneck.station == "B"
    as_dict = report.to_dict()
    assert as_dict["bottleneck"] == "B" and as_dict["window"] == {"start": 8 * H, "end": 40 * H}
    assert [s["station"] for s in as_dict["stations"]] == ["A", "B", "C"]  # type: ignore[index]


def test_short_scrap_policy_does_not_remake(tiny: Plant) -> None:
    short = tiny.model_copy(update={"settings": tiny.settings.model_copy(update={"scrap_policy": "short"})})
    loads = {
        s.station: s for s in capacity_for_orders(short, [Order("O1", "P", 100, 8 * H, 40 * H)]).stations
    }
    assert loads["A"].demand == pytest.approx(600 + 100 * 60)


def test_demand_adds_up_over_orders(tiny: Plant) -> None:
    one = capacity_for_orders(tiny, [Order("O1", "P", 40, 8 * H, 40 * H)])
    two = capacity_for_orders(
        tiny, [Order("O1", "P", 40, 8 * H, 40 * H), Order("O2", "P", 60, 9 * H, 40 * H)]
    )
    a1 = next(s for s in one.stations if s.station == "A")
    a2 = next(s for s in two.stations if s.station == "A")
    assert a2.demand == pytest.approx(a1.demand + 600 + 60 / 0.8 * 60)


def test_orders_without_a_window_are_refused(tiny: Plant) -> None:
    with pytest.raises(ValueError, match="empty order book"):
        capacity_for_orders(tiny, [])
    with pytest.raises(ValueError, match="due time"):
        capacity_for_orders(tiny, [Order("O1", "P", 1)])


@pytest.mark.parametrize(
    ("sample", "rho"),
    [
        ("single", {"server": 48 / 60}),
        ("mmc", {"cell": 50 / (3 * 20)}),
        ("tandem3", {"s1": 40 / 60, "s2": 45 / 60, "s3": 30 / 60}),
        ("flowline", {"f1": 3.0, "f2": 5.0, "f3": 4.0, "f4": 2.0}),
    ],
)
def test_stream_load_is_the_utilisation_of_queueing_theory(sample_plant, sample: str, rho: dict) -> None:  # type: ignore[no-untyped-def]
    """rho = lambda x E[S] / c for each station of the textbook samples."""
    report = capacity_for_stream(sample_plant(sample))
    assert {s.station: s.load for s in report.stations} == pytest.approx(rho)
    assert report.bottleneck.station == max(rho, key=rho.__getitem__)


def test_demo_order_book_load(demo_plant: Plant, demo_orders: list[Order]) -> None:
    report = capacity_for_orders(demo_plant, demo_orders)
    assert {s.station for s in report.stations} == set(demo_plant.station_map)
    assert all(0 < s.load < 1 for s in report.stations)  # the demo week is feasible on average
    # Total demand on the pack station: every unit of every order is packed once (yield 1).
    pack = next(s for s in report.stations if s.station == "pack")
    per_unit = {p.id: p.routing[-1].time.mean for p in demo_plant.products}
    assert pack.demand == pytest.approx(sum(o.quantity * per_unit[o.product] for o in demo_orders))
