"""The loaded plant model: calendars per station, tag names, content hash, the order stream."""

from __future__ import annotations

import itertools
import statistics

import pytest

from twin.loader import plant_from_text
from twin.orders import Order, generate_orders
from twin.plant import Plant
from twin.samples import sample_path

H = 3600.0
PLANT = """\
name: two
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:test"}
calendars:
  day: {shifts: [{days: mon-fri, start: "08:00", end: "16:00"}]}
  late: {shifts: [{days: mon-fri, start: "16:00", end: "20:00"}]}
lines:
  - id: L
    calendar: day
    stations:
      - {id: a}
      - {id: b, calendar: late, tags: {state: "ns=2;s=B.State", process_values: {temp: "i=42"}},
         process_values: [{name: temp, target: 20, sd: 1}]}
  - id: M
    stations:
      - {id: c}
products:
  - id: p
    routing:
      - {id: o1, stations: [a, b, c], time: 60}
order_stream:
  interarrival: {exponential: 600}
  mix: {p: 1}
  due_after: 2h
"""


@pytest.fixture(scope="module")
def plant() -> Plant:
    return plant_from_text(PLANT, "two.yaml")[0]


def test_station_calendar_overrides_line_and_none_is_always(plant: Plant) -> None:
    assert [plant.calendar_name(s) for s in "abc"] == ["day", "late", None]
    assert plant.working_time("a", 86400).intervals == ((8 * H, 16 * H),)
    assert plant.working_time("b", 86400).intervals == ((16 * H, 20 * H),)
    assert plant.working_time("c", 86400).is_working(3 * H)


def test_tag_map_convention_and_overrides(plant: Plant) -> None:
    a = plant.tag_map("a")
    assert a.state == "nsu=urn:test;s=L.a.State" and a.good_count == "nsu=urn:test;s=L.a.GoodCount"
    b = plant.tag_map("b")
    assert b.state == "ns=2;s=B.State" and b.reject_count == "nsu=urn:test;s=L.b.RejectCount"
    assert b.process_values == {"temp": "i=42"}


def test_content_hash_is_stable_and_follows_content(plant: Plant) -> None:
    again = plant_from_text(PLANT, "elsewhere.yaml")[0]
    assert again.content_hash() == plant.content_hash()
    reordered = PLANT.replace(
        "name: two\nepoch: 2026-11-30T00:00:00+00:00\n", "epoch: 2026-11-30T00:00:00+00:00\nname: two\n"
    )
    assert plant_from_text(reordered, "x.yaml")[0].content_hash() == plant.content_hash()
    assert (
        plant_from_text(PLANT.replace("time: 60", "time: 61"), "x.yaml")[0].content_hash()
        != plant.content_hash()
    )
    assert (
        plant_from_text(PLANT.replace("time: 60", "time: 1m"), "x.yaml")[0].content_hash()
        == plant.content_hash()
    )


def test_order_stream_default_quantity_is_one(plant: Plant) -> None:
    assert plant.order_stream is not None and plant.order_stream.quantity.mean == 1.0
    orders = generate_orders(plant.order_stream, 10 * 86400, seed=3)
    assert {o.quantity for o in orders} == {1}
    assert all(o.due == o.release + 2 * H and o.product == "p" for o in orders)


def test_generated_orders_are_poisson_and_reproducible(sample_plant) -> None:  # type: ignore[no-untyped-def]
    stream = sample_plant("single").order_stream  # exponential inter-arrival, mean 60 s
    horizon = 200_000.0
    first = generate_orders(stream, horizon, seed=11)
    assert first == generate_orders(stream, horizon, seed=11)
    assert first != generate_orders(stream, horizon, seed=12)
    # Count ~ Poisson(horizon / 60) = 3333, sd 58: within 5 sd.
    assert abs(len(first) - horizon / 60) < 5 * (horizon / 60) ** 0.5
    gaps = [b.release - a.release for a, b in itertools.pairwise(first)]
    assert statistics.fmean(gaps) == pytest.approx(60, rel=0.06)
    assert [o.id for o in first[:2]] == ["S00001", "S00002"]
    assert all(0 < o.release < horizon for o in first)


def test_generated_mix_follows_the_weights() -> None:
    other = "  - id: other\n    routing: [{id: x, stations: s1, time: 5}]\n"
    text = sample_path("tandem3").read_text()  # type: ignore[union-attr]
    text = text.replace("  - id: part\n", other + "  - id: part\n").replace(
        "mix: {part: 1}", "mix: {part: 3, other: 1}"
    )
    plant = plant_from_text(text, "mix.yaml")[0]
    assert plant.order_stream is not None
    orders = generate_orders(plant.order_stream, 400_000.0, seed=5)
    share = sum(o.product == "part" for o in orders) / len(orders)
    assert share == pytest.approx(0.75, abs=0.03)


def test_order_invariants() -> None:
    with pytest.raises(ValueError, match="quantity"):
        Order("A", "p", 0)
    with pytest.raises(ValueError, match="due is before release"):
        Order("A", "p", 1, release=10, due=5)
