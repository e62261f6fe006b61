"""The KPI registry: one definition of a KPI reaches the simulator, the CLI, the scenario
comparison and the dashboard, with its direction; a registry is injected, never patched in."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashboards.pages.whatif import render_result
from dashboards.scenario_runs import to_result
from plantwin.cli import app
from plantwin.common import Wiring
from scenarios.compare import compare_kpis
from scenarios.files import load_scenario
from scenarios.runner import run_scenario
from twin.kpi import KPIS, FlowCounts, Kpi, KpiRegistry, TimeElements

SCENARIO = """
name: flow-registry
description: f2 twice as fast
base: {plant: flowline, generate: 30m, until: 30m}
judge: {replications: 2, seed: 2, planner: {mode: rule, rule: FIFO}}
changes: [{type: cycle_time, station: f2, factor: 0.5}]
"""


def line_delay(el: TimeElements, flow: FlowCounts) -> float:
    """The test KPI: the plant's delay time (starved, blocked, held) per planned busy time."""
    return el.adet / el.pbt if el.pbt > 0 else math.nan


LINE_DELAY = Kpi(
    "line_delay", "line delay", "", "lower", "percent", line_delay, headline=True, formula="ADET / PBT"
)
REGISTRY = KPIS.with_kpis(LINE_DELAY)
runner = CliRunner()


def test_the_default_registry_says_which_way_is_better() -> None:
    assert KPIS.better("lead_time_mean") == "lower" and KPIS.better("oee.saw") == "higher"
    assert KPIS.better("units_scrapped") == "lower" and KPIS.better("throughput_per_hour") == "higher"
    assert KPIS.better("no_such_kpi") is None  # never guessed from the name
    assert KPIS.format("lead_time_mean", 3900.0) == "1h 05m" and KPIS.format("oee", 0.5) == "50.0%"
    assert KPIS.unit("throughput_per_hour") == "units/h" and KPIS.label("oee.saw") == "OEE (saw)"
    assert "line_delay" not in KPIS and "line_delay" in REGISTRY  # with_kpis copies


def test_registry_refuses_duplicates_and_dotted_names() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        KpiRegistry((LINE_DELAY, LINE_DELAY))
    with pytest.raises(ValueError, match="may not contain"):
        KpiRegistry((Kpi("a.b", "x", "", "higher", "number", line_delay),))


def test_comparison_takes_the_direction_from_the_registry() -> None:
    # lower is better: a drop is an improvement although the name says nothing about it
    rows = compare_kpis({"line_delay": [0.5, 0.6, 0.55]}, {"line_delay": [0.3, 0.4, 0.33]}, REGISTRY)
    assert rows[0].better == "lower" and rows[0].verdict == "better"
    # a key no registry holds gets no direction, and a significant change is just 'changed'
    rows = compare_kpis({"mystery": [1.0, 1.1, 1.05]}, {"mystery": [2.0, 2.1, 2.05]}, REGISTRY)
    assert rows[0].better == "" and rows[0].verdict == "changed"


def test_added_kpi_reaches_the_simulate_cli() -> None:
    args = ["simulate", "flowline", "--until", "2h", "--replications", "2", "--no-history"]
    res = runner.invoke(app, [*args, "--json"], obj=Wiring(kpis=REGISTRY))
    assert res.exit_code == 0, res.output
    kpis = json.loads(res.stdout)["kpis"]
    assert 0.0 <= kpis["line_delay"]["mean"] <= 1.0 and len(kpis["line_delay"]["values"]) == 2
    plain = runner.invoke(app, [*args, "--json"])  # no wiring given: the default registry
    assert "line_delay" not in json.loads(plain.stdout)["kpis"]
    text = runner.invoke(app, args, obj=Wiring(kpis=REGISTRY), terminal_width=160)
    assert text.exit_code == 0, text.output
    row = next(line for line in text.stdout.splitlines() if "line delay" in line)
    assert "↓" in row and "%" in row


def test_added_kpi_reaches_the_whatif_cli_comparison_with_its_direction(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(SCENARIO)
    res = runner.invoke(app, ["whatif", str(path), "--json", "--no-history"], obj=Wiring(kpis=REGISTRY))
    assert res.exit_code == 0, res.output
    row = next(c for c in json.loads(res.stdout)["variants"][0]["comparison"] if c["kpi"] == "line_delay")
    assert row["better"] == "lower"
    text = runner.invoke(
        app, ["whatif", str(path), "--no-history"], obj=Wiring(kpis=REGISTRY), terminal_width=200
    )
    assert text.exit_code == 0, text.output
    line = next(x for x in text.stdout.splitlines() if "line_delay" in x)
    assert "lower" in line


def test_added_kpi_reaches_the_dashboard_comparison_with_its_direction(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(SCENARIO)
    report = run_scenario(load_scenario(str(path)), kpis=REGISTRY)
    result = to_result(report, None, REGISTRY)
    row = result.comparison.set_index("kpi").loc["line_delay"]
    assert row["better"] == "lower" and row["unit"] == "%"  # shares shown in percent
    page = render_result(result, datetime(2026, 1, 1, tzinfo=UTC))
    table = _find(page, "whatif-comparison")
    shown = next(r for r in table.data if r["kpi"] == "line_delay")
    assert shown["better"] == "↓ lower"
    assert next(r["kpi"] for r in table.data) == "throughput_per_hour"  # headline order from the registry


def _find(children: object, component_id: str) -> object:
    """The component with `component_id` in a Dash layout tree."""
    stack = list(children) if isinstance(children, list) else [children]
    while stack:
        node = stack.pop()
        if getattr(node, "id", None) == component_id:
            return node
        kids = getattr(node, "children", None)
        if isinstance(kids, list):
            stack.extend(kids)
        elif kids is not None and not isinstance(kids, str):
            stack.append(kids)
    raise AssertionError(f"no component {component_id!r}")


def setup_share(el: TimeElements, flow: FlowCounts) -> float:
    """A per-station test KPI: setup time per planned busy time."""
    return el.aust / el.pbt if el.pbt > 0 else math.nan


def test_added_station_kpi_reaches_history_kpis(tmp_path: Path, sample_plant) -> None:
    import pandas as pd

    from twin.history import HistoryStore

    registry = KPIS.with_kpis(
        Kpi("setup_share", "setup share", "", "lower", "percent", setup_share, scope="station")
    )
    plant = sample_plant("jobshop3x3")
    station = plant.stations[0].id
    rows = [(0.0, "Setup"), (600.0, "Execute"), (1800.0, "Idle")]
    events = pd.DataFrame(
        {
            "time": [t for t, _ in rows],
            "station": station,
            "machine": 0,
            "kind": "state",
            "order_id": None,
            "operation": None,
            "quantity": 0,
            "state": [s for _, s in rows],
        }
    )
    db = str(tmp_path / "h.duckdb")
    with HistoryStore(db) as store:
        store.record_run("sync", started_by="t", plant=plant)
        store.add_actual_events(events)
    args = ["history", "kpis", "--db", db, "--since", "0", "--until", "2400", "--json"]
    res = runner.invoke(app, args, obj=Wiring(kpis=registry))
    assert res.exit_code == 0, res.output
    row = next(r for r in json.loads(res.stdout)["stations"] if r["station"] == station)
    assert row["kpis"]["setup_share"] == pytest.approx(600 / 2400)
    assert "setup_share" not in json.loads(runner.invoke(app, args).stdout)["stations"][0]["kpis"]
