"""Scenario files and changes: validation with file/line/field, and the pure apply_changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.changes import apply_changes
from scenarios.files import list_library, load_scenario, prepare, rush_order_scenario, sweep_grid
from scenarios.model import (
    AddMachine,
    AddOrder,
    AddShift,
    AddStation,
    BufferSize,
    CancelOrder,
    CycleTime,
    DeliverySlip,
    MoveDue,
    Operators,
    RepairTime,
    Reroute,
    ScaleDemand,
    StationDown,
    Yield,
)
from twin.errors import InputError
from twin.plant import Plant
from twin.timeutil import parse_time

TUE_06 = 30 * 3600.0  # demo epoch is Monday 00:00 local


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def _issues(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InputError) as info:
        load_scenario(_write(tmp_path, text))
    return [str(i) for i in info.value.issues]


def test_unknown_station_names_file_line_and_field(tmp_path: Path) -> None:
    text = "name: x\nbase: {plant: demo}\nchanges:\n  - type: buffer\n    station: asembly\n    size: 3\n"
    (msg,) = _issues(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 's.yaml'}:5: changes[0].station: unknown station 'asembly'")


def test_misspelt_key_and_unknown_type_are_schema_errors(tmp_path: Path) -> None:
    msgs = _issues(tmp_path, "name: x\nchanges:\n  - {type: buffer, station: assembly, sise: 3}\n")
    assert any(":3: changes[0].sise: unknown field" in m for m in msgs)
    msgs = _issues(tmp_path, "name: x\nchanges:\n  - {type: explode, station: assembly}\n")
    assert any(":3:" in m and "changes[0]" in m for m in msgs)


def test_unknown_order_and_product_in_variants(tmp_path: Path) -> None:
    text = (
        "name: x\nvariants:\n  - name: a\n    changes:\n      - {type: cancel_order, order: SO-1}\n"
        "  - name: b\n    changes:\n"
        "      - {type: add_order, id: R, product: PUMP-XL, quantity: 3, due: 2d}\n"
    )
    (msg,) = _issues(tmp_path, text)
    assert ":5: variants[0].changes[0].order: unknown order 'SO-1'" in msg
    text = text.replace("SO-1}", "SO-1001}")
    (msg,) = _issues(tmp_path, text)
    assert ":8: variants[1].changes[0].product: unknown product 'PUMP-XL'" in msg


def test_removing_the_only_station_of_an_operation_is_refused(tmp_path: Path) -> None:
    (msg,) = _issues(tmp_path, "name: x\nchanges:\n  - {type: remove_station, station: assembly}\n")
    assert ":3: changes[0].station:" in msg and "reroute" in msg


def test_a_later_change_may_use_a_station_added_earlier(demo_plant: Plant, demo_orders) -> None:
    changes = [
        AddStation(
            type="add_station", line="ASSY", after="assembly", station={"id": "assembly2", "buffer": 4}
        ),
        Reroute(type="reroute", product="PUMP-S", operation="assemble", stations=("assembly", "assembly2")),
    ]
    plant, orders = apply_changes(demo_plant, demo_orders, changes)
    ids = [s.id for s in plant.lines[1].stations]
    assert ids == ["preasm", "assembly", "assembly2", "test", "pack"]
    assert plant.product_map["PUMP-S"].routing[5].stations == ("assembly", "assembly2")
    assert plant.station_map["assembly2"].buffer == 4  # lookups are fresh, not stale copies
    assert "assembly2" not in demo_plant.station_map  # the input is untouched
    assert orders == list(demo_orders)


def test_apply_changes_is_pure_and_exact(demo_plant: Plant, demo_orders) -> None:
    before_hash = demo_plant.content_hash()
    changes = [
        AddOrder(type="add_order", id="R1", product="VALVE", quantity=5, due="3d", priority=4),
        CancelOrder(type="cancel_order", order="SO-1001"),
        MoveDue(type="move_due", order="SO-1002", later="2h"),
        ScaleDemand(type="scale_demand", factor=1.5, product="PUMP-L"),
        StationDown(type="station_down", station="assembly", start=TUE_06, duration="8h"),
        RepairTime(type="mttr", station="cnc1", factor=2.0),
        DeliverySlip(type="delivery_slip", material="housing", by="1d"),
        AddShift(type="add_shift", start="2026-12-05T06:00:00+01:00", end="2026-12-05T14:00:00+01:00"),
        Operators(type="operators", resource="assemblers", add=1),
        AddMachine(type="add_machine", station="test"),
        BufferSize(type="buffer", station="assembly", size=None),
        CycleTime(type="cycle_time", station="assembly", factor=0.5),
        Yield(type="yield", product="PUMP-S", operation="test", value=0.9),
    ]
    plant, orders = apply_changes(demo_plant, demo_orders, changes, now=TUE_06)
    assert demo_plant.content_hash() == before_hash
    by_id = {o.id: o for o in orders}
    assert "SO-1001" not in by_id and by_id["R1"].release == TUE_06 and by_id["R1"].weight == 4
    assert by_id["R1"].due == 3 * 86400
    old = {o.id: o for o in demo_orders}
    assert by_id["SO-1002"].due == old["SO-1002"].due + 7200
    for o in demo_orders[1:]:
        expected = round(o.quantity * 1.5) if o.product == "PUMP-L" else o.quantity
        assert by_id[o.id].quantity == expected, o  # only PUMP-L scaled
    assembly = plant.station_map["assembly"]
    assert assembly.maintenance[-1].start == TUE_06 and assembly.maintenance[-1].duration == 8 * 3600
    assert assembly.buffer is None
    assert plant.station_map["cnc1"].failures.mttr.mean == pytest.approx(2 * 30 * 60)
    first = parse_time(demo_plant.material_map["housing"].deliveries[0].at, demo_plant.epoch)
    assert plant.material_map["housing"].deliveries[0].at == pytest.approx(first + 86400)
    assert plant.resource_map["assemblers"].capacity == 4
    assert plant.station_map["test"].machines == 2
    sat = plant.calendars["two-shift"].compile(plant.epoch, 7 * 86400)
    assert sat.working_seconds(5 * 86400, 6 * 86400) == 8 * 3600  # Saturday 06-14
    pump_s = plant.product_map["PUMP-S"].routing
    assert pump_s[5].time.mean == pytest.approx(40.0)  # assemble 80 s x 0.5
    assert pump_s[6].yield_ == 0.9


def test_sweep_grid_two_parameters(tmp_path: Path) -> None:
    loaded = load_scenario("buffer-operators-sweep")
    assert len(loaded.sweep_points) == 9
    values, changes = loaded.sweep_points[-1]
    assert values == {"assembly_buffer": 10, "assemblers": 3}
    assert changes[0].type == "scale_demand"  # the sweep's own change comes first at every point
    assert changes[1].size == 10 and changes[2].capacity == 3
    assert loaded.scenario.sweep is not None
    assert len(sweep_grid(loaded.scenario.sweep)) == 9


def test_sweep_value_that_does_not_fit_names_its_line(tmp_path: Path) -> None:
    text = (
        "name: x\nsweep:\n  parameters:\n    - name: b\n"
        "      change: {type: buffer, station: assembly, size: 1}\n"
        "      field: size\n      values: [1, -3]\n"
    )
    (msg,) = _issues(tmp_path, text)
    assert ":7: sweep.parameters[0].values[1]:" in msg


def test_base_changes_apply_to_the_baseline(tmp_path: Path, demo_orders) -> None:
    loaded = prepare(
        "name: x\nbase:\n  plant: demo\n  changes: [{type: scale_demand, factor: 2}]\n"
        "changes: [{type: cancel_order, order: SO-1001}]\n",
        "<t>",
        base_dir=tmp_path,
    )
    assert sum(o.quantity for o in loaded.orders) == 2 * sum(o.quantity for o in demo_orders)
    assert len(loaded.variants[0].orders) == len(demo_orders) - 1


def test_every_library_scenario_loads_and_is_described() -> None:
    names = set(list_library())
    assert {"rush-fits", "rush-no-fit", "bottleneck-breakdown", "saturday-shift", "faster-bottleneck",
            "bigger-buffer"} <= names  # fmt: skip
    for name in names:
        loaded = load_scenario(name)
        assert loaded.scenario.description, name
        assert loaded.variants or loaded.sweep_points, name


def test_rush_order_scenario_for_the_dashboard(demo_plant: Plant, demo_orders) -> None:
    loaded = rush_order_scenario(demo_plant, list(demo_orders), "VALVE", 12, due=3 * 86400.0, replications=4)
    (variant,) = loaded.variants
    assert variant.rush == ("RUSH",) and len(variant.orders) == len(demo_orders) + 1
    assert loaded.scenario.judge.replications == 4 and "add_order" in loaded.text
    with pytest.raises(InputError, match="unknown product"):
        rush_order_scenario(demo_plant, list(demo_orders), "PUMP-XL", 1, due=1.0)


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ("{type: scale_demand, factor: 1e9}",
         "changes[0].factor: got 1000000000, expected a number above 0 to 1000"),
        ("{type: add_order, id: R, product: VALVE, quantity: 1000000000000, due: 2d}",
         "changes[0].quantity: got 1000000000000, expected a whole number from 1 to 1000000"),
        ("{type: add_machine, station: assembly, count: 100000000000000000000}",
         "changes[0].count: got 100000000000000000000, expected a whole number from -1000 to 1000"),
        ("{type: station_down, station: assembly, start: 9999-12-31T00:00:00+00:00, duration: 1h}",
         "changes[0].start: got '9999-12-31T00:00:00+00:00', expected a time within 10 years"),
    ],
)  # fmt: skip
def test_out_of_range_scenario_numbers_show_the_value(tmp_path: Path, change: str, phrase: str) -> None:
    msgs = _issues(tmp_path, f"name: x\nbase: {{plant: demo}}\nchanges:\n  - {change}\n")
    assert any(f":4: {phrase}" in m for m in msgs), msgs


def test_scaled_demand_beyond_an_orders_range_is_refused(tmp_path: Path) -> None:
    changes = "  - {type: add_order, id: R, product: VALVE, quantity: 1000000, due: 2d}\n"
    changes += "  - {type: scale_demand, factor: 1000}\n"
    msgs = _issues(tmp_path, f"name: x\nbase: {{plant: demo}}\nchanges:\n{changes}")
    assert any("after the changes, plant orders[" in m and "quantity: got" in m for m in msgs), msgs
