"""A virtual floor that differs from the plant file: a truth file, drifting times, and the checks
that refuse a truth that is not the same floor."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from plantwin.cli import app
from sync.sink import MemorySink
from sync.virtual.offline import record_floor
from sync.virtual.server import VirtualPlant
from twin.drift import Drift, parse_drift
from twin.errors import InputError
from twin.loader import plant_from_text
from twin.orders import Order
from twin.plant import Plant

CELL = """\
name: cell
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations:
      - id: mill
      - id: pack
products:
  - id: P
    routing:
      - {id: mill, stations: mill, time: {lognormal: {mean: 60, cv: 0.1}}}
      - {id: pack, stations: pack, time: 10}
"""


def _cell(text: str = CELL) -> Plant:
    return plant_from_text(text, "cell")[0]


def _cycles(sink: MemorySink, station: str) -> list[tuple[float, float]]:
    v = sink.values
    rows = v[(v["tag"] == "cycle_time") & (v["station"] == station)]
    return list(zip(rows["time"], rows["value"], strict=True))


def test_the_floor_runs_the_truth_behind_the_plants_tags() -> None:
    plant, truth = _cell(), _cell(CELL.replace("mean: 60", "mean: 90"))
    orders = [Order("O1", "P", 200)]
    sink = MemorySink()
    record_floor(plant, orders, 86400.0, sink, truth=truth, seed=2)
    cycles = [c for _, c in _cycles(sink, "mill")]
    assert len(cycles) == 200
    assert sum(cycles) / len(cycles) == pytest.approx(90.0, rel=0.03)
    assert set(sink.values["node_id"]) <= {
        t for s in plant.stations for t in plant.tag_map(s.id).model_dump().values() if t
    }


def test_a_drifting_time_grows_as_specified() -> None:
    plant = _cell()
    drift = parse_drift("P.mill=+10%/day", plant)
    assert drift == Drift("P", "mill", 0.10) and drift.factor(2 * 86400.0) == pytest.approx(1.2)
    orders = [Order(f"O{d}", "P", 100, release=d * 86400.0) for d in range(5)]
    sink = MemorySink()
    record_floor(plant, orders, 5 * 86400.0, sink, drifts=[drift], seed=2)
    by_day: dict[int, list[float]] = {}
    for t, c in _cycles(sink, "mill"):
        by_day.setdefault(int(t // 86400), []).append(c / drift.factor(t))
    for day, values in by_day.items():
        assert sum(values) / len(values) == pytest.approx(60.0, rel=0.03), day  # drift-corrected: nominal
    raw = {
        d: sum(c for t, c in _cycles(sink, "mill") if int(t // 86400) == d) / len(v)
        for d, v in by_day.items()
    }
    assert raw[4] > 1.3 * raw[0]


def test_a_truth_of_another_floor_is_refused() -> None:
    other = CELL.replace("- id: pack\n", "- id: pack\n        machines: 2\n").replace(
        "{id: pack, stations: pack", "{id: box, stations: pack"
    )
    with pytest.raises(ValueError, match=r"pack has 2 machines.*routing mill@mill, box@pack"):
        VirtualPlant(_cell(), truth=_cell(other))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("P.mill", "expected PRODUCT.OPERATION=RATE%/day"),
        ("Q.mill=2%", "no product 'Q'"),
        ("P.drill=2%/day", "has no operation 'drill'"),
        ("P.mill=+250%/day", "outside -100..100"),
    ],
)
def test_bad_drift_specs_name_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_drift(spec, _cell())


def test_virtual_plant_command_refuses_a_truth_of_another_floor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    plant, truth = tmp_path / "plant.yaml", tmp_path / "truth.yaml"
    plant.write_text(CELL)
    truth.write_text(CELL.replace("id: pack", "id: box").replace("stations: pack", "stations: box"))
    result = CliRunner().invoke(app, ["virtual-plant", str(plant), "--truth", str(truth), "--duration", "1"])
    assert result.exit_code == 2
    assert "truth.yaml: not the same floor as plant cell: station pack is missing" in result.output
    assert "Traceback" not in result.output
