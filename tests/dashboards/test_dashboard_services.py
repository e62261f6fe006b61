"""HistoryServices against hand-worked answers: OEE sums time elements before dividing, process
values keep only Good ones, dispatch is gated on an accepted verdict of exactly this plan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dashboard_support import add_accepted_plan
from synthetic_history import fill_history

from dashboards.history_services import HistoryServices
from dashboards.scenario_runs import ScenarioWhatIf
from dashboards.services import DispatchOutcome, WhatIfRequest
from scenarios.files import LoadedScenario
from scenarios.report import ScenarioReport
from twin.history import HistoryStore
from twin.orders import Order
from twin.plant import Plant

MON_06, MON_14, MON_15, MON_18 = 21600.0, 50400.0, 54000.0, 64800.0


def _events(rows: list[tuple[float, str, str, str | None, str | None, int]]) -> pd.DataFrame:
    """(time, station, kind, state, order, quantity) rows of machine 0, operation 'cut'."""
    cols = ["time", "station", "kind", "state", "order_id", "quantity"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.assign(machine=0, operation="cut")[
        ["time", "station", "machine", "kind", "order_id", "operation", "quantity", "state"]
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    s = HistoryStore(tmp_path / "h.duckdb")
    yield s
    s.close()


def test_oee_per_station_sums_elements_over_shifts(store: HistoryStore, demo_plant: Plant) -> None:
    # saw executes the whole early shift (06-14) and one hour of the late one, idle until 18:00
    order = Order("O1", "PUMP-S", 100, release=0.0, due=1e6)
    store.record_run("plan", started_by="test", plant=demo_plant, orders=[order])
    rows = [
        (MON_06, "saw", "order_started", None, "O1", 0),  # one lot: one 5 min batch time of 'cut'
        (MON_06, "saw", "state", "Execute", None, 0),
        (MON_15, "saw", "state", "Idle", None, 0),
        *[(MON_06 + 60.0 * (i + 1), "saw", "produced", None, "O1", 1) for i in range(95)],
        *[(MON_06 + 6000.0 + i, "saw", "scrapped", None, "O1", 1) for i in range(5)],
    ]
    store.add_actual_events(_events(rows))
    oee = HistoryServices(store, demo_plant).station_oee(MON_06, MON_18).set_index("station")
    saw = oee.loc["saw"]
    # APT = 8 h + 1 h over PBT = 8 h + 4 h: 0.75 (the mean of the shift ratios would be 0.625)
    assert saw["availability"] == pytest.approx(9 / 12)
    pri = (20 + 25 + 35) / 3  # triangular mean of PUMP-S 'cut'
    # machine 0's own state (per-machine basis): PRI x PQ plus the lot's batch time over APT
    assert saw["performance"] == pytest.approx((100 * pri + 300) / (9 * 3600))
    assert saw["quality"] == pytest.approx(95 / 100)
    assert saw["oee"] == pytest.approx(saw["availability"] * saw["performance"] * saw["quality"])
    assert "cnc1" not in oee.index  # nothing recorded there: no row, not zeros


def test_process_series_keeps_good_values_oldest_first(store: HistoryStore, demo_plant: Plant) -> None:
    t = [0.0, 60.0, 120.0, 180.0]
    store.add_actual_values(
        pd.DataFrame(
            {
                "time": t,
                "source_time": pd.to_datetime([datetime(2026, 11, 30, tzinfo=UTC)] * 4, utc=True),
                "server_time": pd.to_datetime([None] * 4, utc=True),
                "node_id": "ns=2;s=cnc1.spindle_temp",
                "station": "cnc1",
                "tag": "pv:spindle_temp",  # as sync stores it
                "value": [41.0, 99.0, 42.0, 43.0],
                "value_text": None,
                "status_code": [0, 0x80000000, 0, 0],  # the second is Bad
                "status": ["Good", "Bad", "Good", "Good"],
            }
        )
    )
    series = HistoryServices(store, demo_plant).process_series("cnc1", "spindle_temp", None, None, 2)
    assert series.to_dict("list") == {"time": [120.0, 180.0], "value": [42.0, 43.0]}
    everything = HistoryServices(store, demo_plant).process_series("cnc1", "spindle_temp", None, None, 10)
    assert list(everything["value"]) == [41.0, 42.0, 43.0]


def test_dispatch_needs_an_accepted_verdict_and_a_target(
    store: HistoryStore, demo_plant: Plant, demo_orders: list[Order]
) -> None:
    late = [Order(o.id, o.product, o.quantity, o.release, o.release + 3600.0) for o in demo_orders[:4]]
    runs = fill_history(store, demo_plant, late + demo_orders[4:], seed=1)
    accepted = add_accepted_plan(store, demo_plant, demo_orders)
    sent: list[str] = []

    def floor(run_id: str) -> DispatchOutcome:  # the dispatch service's action (it records)
        sent.append(run_id)
        return DispatchOutcome(True, "sent", f"dispatch-of-{run_id}")

    no_target = HistoryServices(store, demo_plant)
    assert not no_target.dispatch(accepted).ok
    services = HistoryServices(store, demo_plant, dispatcher=floor)
    refused = services.dispatch(runs.plan)
    assert not refused.ok and "refused" in refused.message and "on time in" in refused.message
    assert sent == []
    ok = services.dispatch(accepted)
    assert ok.ok and sent == [accepted] and ok.run_id == f"dispatch-of-{accepted}"
    assert store.list_runs(kind="dispatch").empty  # the dashboard records nothing itself
    risk = services.orders_at_risk(runs.plan, 0.9)
    assert {o.id for o in late} <= set(risk["order_id"])


class _Stop(Exception):
    """Raised by the stand-in runner once it has seen the scenario it was given."""


def test_rush_form_is_built_by_the_scenario_builder(
    store: HistoryStore, demo_plant: Plant, demo_orders: list[Order]
) -> None:
    store.record_run("plan", started_by="t", plant=demo_plant, orders=demo_orders[:3])
    store.record_run("plan", started_by="t", plant=demo_plant, orders=demo_orders[:5])  # the latest
    store.add_actual_events(_events([(MON_15, "saw", "produced", None, "SO-1", 1)]))
    seen: dict[str, LoadedScenario] = {}

    def runner(loaded: LoadedScenario, **_: object) -> ScenarioReport:
        seen["loaded"] = loaded
        raise _Stop

    product = demo_plant.products[0].id
    request = WhatIfRequest(product=product, quantity=7, due=MON_18, replications=3, seed=5)
    with pytest.raises(_Stop):
        ScenarioWhatIf(runner, store, lambda: demo_plant)(request, lambda share, what: None)
    loaded = seen["loaded"]
    assert loaded.scenario.name == "dashboard-rush-order" and "(dashboard)" in loaded.scenario.description
    (variant,) = loaded.variants
    (rush_id,) = variant.rush
    assert rush_id.startswith("RUSH-")
    rush = next(o for o in variant.orders if o.id == rush_id)
    assert (rush.product, rush.quantity, rush.due, rush.weight) == (product, 7, MON_18, 3.0)
    assert [o.id for o in loaded.orders] == [o.id for o in demo_orders[:5]]  # the latest plan's book
    assert loaded.now == MON_15  # decided at the floor's last event
    judge = loaded.scenario.judge
    assert (judge.replications, judge.seed, judge.planner.mode) == (3, 5, "solve")
    assert yaml.safe_load(loaded.text)["changes"][0]["id"] == rush_id  # the text kept for the history
