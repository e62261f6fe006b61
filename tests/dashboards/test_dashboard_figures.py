"""Figures are pure functions: data in, plotly figure out; checked without a browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from dashboards.figures import (
    control_chart_figure,
    empty_figure,
    gantt_figure,
    oee_figure,
    output_figure,
    output_for_key,
    state_colour,
    wall_time,
)
from twin.spc import RuleViolation, individuals_limits, xbar_r_limits
from twin.states import PACKML_COLOURS, MachineState

EPOCH = datetime(2026, 11, 30, tzinfo=UTC) + timedelta(hours=0)


def test_wall_time_is_plant_local_and_naive() -> None:
    assert wall_time(3600 * 6, EPOCH) == datetime(2026, 11, 30, 6, 0)


def test_state_colours_come_from_packml_table() -> None:
    assert state_colour("Execute") == PACKML_COLOURS[MachineState.EXECUTE]
    assert state_colour("Aborted") == PACKML_COLOURS[MachineState.ABORTED]
    assert state_colour("NoSuchState") == "#7f7f7f"


def test_oee_figure_has_four_series_in_percent() -> None:
    df = pd.DataFrame(
        {
            "station": ["saw", "cnc1"],
            "availability": [0.9, 0.5],
            "performance": [0.8, np.nan],
            "quality": [1.0, 0.95],
            "oee": [0.72, np.nan],
        }
    )
    fig = oee_figure(df)
    assert [t.name for t in fig.data] == ["Availability", "Performance", "Quality", "OEE"]
    assert list(fig.data[0].y) == [90.0, 50.0]
    assert fig.data[1].text[1] == ""  # undefined: no bar and no label, not 0
    assert fig.layout.yaxis.title.text == "Percent (%)"
    assert fig.layout.xaxis.title.text == "Station"


def test_gantt_draws_one_trace_per_layer_with_durations_in_ms() -> None:
    plan = pd.DataFrame(
        {
            "order_id": ["A", "B"],
            "operation": ["cut", "mill"],
            "station": ["saw", "cnc1"],
            "machine": [0, 0],
            "start": [0.0, 60.0],
            "end": [30.0, 120.0],
        }
    )
    actual = plan.assign(start=[5.0, 70.0], end=[40.0, 150.0])
    fig = gantt_figure([("Plan", plan), ("Actual", actual)], EPOCH, now=100.0)
    assert [t.name for t in fig.data] == ["Plan", "Actual"]
    assert list(fig.data[0].x) == [30_000.0, 60_000.0]
    assert list(fig.data[1].y) == ["saw/0", "cnc1/0"]
    assert fig.data[0].base[0] == "2026-11-30 00:00:00"
    assert fig.layout.xaxis.title.text == "Time (plant local)"
    assert fig.layout.yaxis.title.text == "Machine (station/index)"
    assert len(fig.layout.shapes) == 1  # the 'now' line


def test_gantt_of_nothing_says_so() -> None:
    empty = pd.DataFrame(columns=["order_id", "operation", "station", "machine", "start", "end"])
    fig = gantt_figure([("Plan", empty)], EPOCH)
    assert fig.data == ()
    assert "No operations" in fig.layout.annotations[0].text


def test_output_figure_band_median_plan_and_actual() -> None:
    df = pd.DataFrame(
        {
            "time": [3600.0, 7200.0],
            "key": ["P", "P"],
            "planned": [10.0, 20.0],
            "sim_p10": [8.0, 17.0],
            "sim_p50": [9.0, 19.0],
            "sim_p90": [11.0, 22.0],
            "actual": [9.0, np.nan],
        }
    )
    fig = output_figure(df, EPOCH)
    names = [t.name for t in fig.data]
    assert names == [None, "Simulated P10-P90", "Simulated median", "Planned", "Actual"]
    assert fig.data[1].fill == "tonexty"
    assert fig.layout.yaxis.title.text == "Cumulative good output (pcs)"
    assert fig.layout.xaxis.title.text == "Time (plant local)"


def test_output_without_simulation_has_no_band() -> None:
    df = pd.DataFrame(
        {
            "time": [1.0],
            "planned": [1.0],
            "sim_p10": [np.nan],
            "sim_p50": [np.nan],
            "sim_p90": [np.nan],
            "actual": [1.0],
        }
    )
    assert [t.name for t in output_figure(df, EPOCH).data] == ["Planned", "Actual"]


def test_output_for_key_sums_over_keys() -> None:
    df = pd.DataFrame(
        {
            "time": [1.0, 1.0, 2.0, 2.0],
            "key": ["a", "b", "a", "b"],
            "planned": [1.0, 2.0, 3.0, 4.0],
            "sim_p10": [np.nan] * 4,
            "sim_p50": [np.nan] * 4,
            "sim_p90": [np.nan] * 4,
            "actual": [1.0, 1.0, np.nan, np.nan],
        }
    )
    total = output_for_key(df, None)
    assert list(total["planned"]) == [3.0, 7.0]
    assert np.isnan(total["sim_p50"]).all()  # all-NaN stays NaN, not 0
    assert np.isnan(total["actual"].iloc[1])
    assert list(output_for_key(df, "b")["planned"]) == [2.0, 4.0]


def test_control_chart_marks_violations_with_rule_names() -> None:
    values = [10.0, 10.2, 9.8, 10.1, 9.9, 10.0, 13.5, 10.1]
    chart = individuals_limits(values)
    found = [RuleViolation("we1", 6, 6)]
    fig = control_chart_figure(
        [60.0 * i for i in range(len(values))],
        values,
        chart,
        found,
        EPOCH,
        name="cnc1 spindle_temp",
        unit="degC",
        spec=(9.0, 12.0),
    )
    names = [t.name for t in fig.data]
    assert "Rule violation" in names
    marks = fig.data[names.index("Rule violation")]
    assert list(marks.y) == [13.5]
    assert "we1" in marks.text[0]
    assert fig.layout.yaxis.title.text == "cnc1 spindle_temp (degC)"
    assert fig.layout.yaxis2.title.text == "Moving range (degC)"
    labels = [a.text for a in fig.layout.annotations]
    assert any(t.startswith("UCL") for t in labels) and any(t.startswith("USL") for t in labels)


def test_xbar_chart_plots_subgroup_means() -> None:
    chart = xbar_r_limits([[1, 2, 3], [2, 4, 6], [3, 3, 3]])
    fig = control_chart_figure([0.0, 60.0, 120.0], [], chart, [], EPOCH, name="torque", unit="Nm")
    assert list(fig.data[0].y) == [2.0, 4.0, 3.0]
    assert fig.layout.yaxis.title.text == "Subgroup mean (Nm)"
    assert fig.layout.yaxis2.title.text == "Range (Nm)"


def test_empty_figure_has_message_and_no_axes() -> None:
    fig = empty_figure("nothing yet")
    assert fig.layout.annotations[0].text == "nothing yet"
    assert fig.layout.xaxis.visible is False
