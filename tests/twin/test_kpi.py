"""The ISO 22400 KPI engine: time elements from a state log, ratios from summed elements."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from twin.kpi import STATE_ELEMENT, Production, TimeElements, kpi_dict, time_elements, total
from twin.states import MachineState

LOG = [
    ("cnc", "Stopped", 0, 100),  # before the shift: outside POT
    ("cnc", "Setup", 100, 120),
    ("cnc", "Execute", 120, 300),
    ("cnc", "Aborted", 300, 330),
    ("cnc", "Execute", 330, 400),
    ("cnc", "Starved", 400, 420),
    ("cnc", "Blocked", 420, 430),
    ("cnc", "Held", 430, 440),
    ("cnc", "Maintenance", 440, 480),
    ("cnc", "Idle", 480, 500),
]


def test_every_state_has_an_element() -> None:
    assert set(STATE_ELEMENT) == {s.value for s in MachineState}


def test_time_elements_of_one_station() -> None:
    prod = [Production.from_pri("cnc", good=20, scrap=2, pri=10.0, rework=3)]
    el = time_elements(LOG, (0, 500), prod)["cnc"]
    assert (el.apt, el.aust, el.adot, el.adet, el.pdot, el.idle, el.stopped) == (250, 20, 30, 40, 40, 20, 100)
    assert el.pot == 400 and el.pbt == 360 and el.aubt == 270
    assert el.pq == 25 and el.planned_time == 250.0
    assert el.availability == 250 / 360
    assert el.effectiveness == 1.0
    assert el.quality_ratio == 20 / 25
    assert el.oee == pytest.approx(250 / 360 * 1.0 * 0.8)
    k = el.kpis()
    assert k["technical_efficiency"] == 250 / 290
    assert k["setup_rate"] == 20 / 270
    assert k["scrap_ratio"] == 2 / 25 and k["rework_ratio"] == 3 / 25
    assert k["allocation_efficiency"] == 270 / 360


def test_window_clips_intervals_and_dataframes_work() -> None:
    df = pd.DataFrame(LOG, columns=["station", "state", "start", "end"]).assign(machine=0)
    el = time_elements(df, (150, 350))["cnc"]
    assert el.apt == 150 + 20 and el.adot == 30 and el.stopped == 0


def test_aggregation_sums_elements_never_averages_ratios() -> None:
    a = TimeElements(apt=90, idle=10, gq=9, planned_time=90)  # availability 0.9
    b = TimeElements(apt=10, idle=890, gq=1, planned_time=10)  # availability 0.011
    both = total({"a": a, "b": b})
    assert both.availability == 100 / 1000  # not (0.9 + 0.011) / 2
    k = kpi_dict({"a": a, "b": b})
    assert k["availability"] == 0.1 and k["availability.a"] == 0.9
    assert k["oee.b"] == pytest.approx(10 / 900)  # availability 10/900, effectiveness 1, quality 1
    assert k["oee"] == pytest.approx(both.availability * both.effectiveness * both.quality_ratio)


def test_availability_is_undefined_when_nothing_was_planned() -> None:
    el = time_elements([("x", "Stopped", 0, 100)], (0, 100), stations=["x", "y"])
    assert math.isnan(el["x"].availability) and math.isnan(el["x"].oee)
    assert el["y"].pbt == 0 and math.isnan(el["y"].quality_ratio)


def test_unknown_state_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown machine state"):
        time_elements([("x", "Running", 0, 1)], (0, 1))
