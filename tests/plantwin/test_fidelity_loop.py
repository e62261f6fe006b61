"""The loop closes, end to end with a known truth: a floor that differs from the plant file in a
slower operation, a station failing more often and a lower yield; the twin's coverage is
measurably below nominal; `plantwin calibrate` recovers each changed parameter within its
interval and leaves the unchanged ones alone; a prediction on the calibrated file covers the
same actuals near nominal again.

The default test records the floor through `sync.virtual.offline` (the virtual plant's tag
writes into the sync tracker, without the network); the slow one runs the same over OPC UA.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sync.virtual.offline import record_floor
from tests.plantwin.fidelity_support import TRUTH, cli_json, parameters, write_case
from twin.history.store import HistoryStore
from twin.loader import load_orders, load_plant

DAYS = 3


def _check_calibration(report: dict, out: Path) -> None:
    params = parameters(report)
    for path, truth in TRUTH.items():
        p = params[path]
        assert p["changed"], p
        low, high = p["interval"]
        assert low <= truth <= high, p
    # the unchanged ones: the file's (true) value inside the interval where there was evidence
    unchanged = [p for path, p in params.items() if path not in TRUTH and p["interval"][1] is not None]
    assert len(unchanged) >= 8
    inside = [p for p in unchanged if p["interval"][0] <= p["old"] <= p["interval"][1]]
    # 95 % intervals: about one in twenty misses by chance; allow a fifth
    assert len(inside) >= 0.8 * len(unchanged), [p for p in unchanged if p not in inside]
    # too few failures at the cut station: kept, and said so
    assert not params["stations.cut.failures.mtbf"]["changed"]
    assert "kept" in params["stations.cut.failures.mtbf"]["note"]
    # the written file: only the changed values differ, and it loads where it was written
    cal, _ = load_plant(out)
    assert cal.product_map["A"].routing[1].time.mean == pytest.approx(
        params["products.A.routing.mill.time"]["new"], rel=1e-3
    )
    assert cal.products[0].routing[2].yield_ == pytest.approx(
        params["products.A.routing.check.yield"]["new"], abs=1e-4
    )
    # only the changed values differ: one changed line per changed value, comments kept
    old_lines = (out.parent.parent / "case" / "plant.yaml").read_text().splitlines()
    new_lines = out.read_text().splitlines()
    assert len(old_lines) == len(new_lines)
    differing = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert 1 <= len(differing) <= report["changed"] + 1  # + the order book path, relative to the new place
    assert any("# relative to this file" in b for _, b in differing)
    assert new_lines[0].startswith("# cellworks")


def _loop(tmp_path: Path, record, days: int, reps: int) -> None:  # type: ignore[no-untyped-def]
    plant_path, truth_path = write_case(tmp_path / "case", days)
    db = str(tmp_path / "history.duckdb")
    before = cli_json("simulate", str(plant_path), "--replications", str(reps), "--seed", "7", "--db", db)
    record(plant_path, truth_path, db)
    score0 = cli_json("fidelity", "--db", db)["scores"][0]
    assert score0["simulation"] == before["run_id"]
    cov0 = score0["coverage"]["value"]
    assert cov0 < 0.6, score0["coverage"]  # nominal is 0.8: the model is measurably off
    assert score0["completion"]["bias_s"] > 1800  # the floor is slower than predicted
    out = tmp_path / "calibrated" / "plant.yaml"
    report = cli_json("calibrate", str(plant_path), "--db", db, "--out", str(out))
    _check_calibration(report, out)
    after = cli_json("simulate", str(out), "--replications", str(reps), "--seed", "7", "--db", db)
    score1 = cli_json("fidelity", "--db", db, "--plan", after["run_id"])["scores"][0]
    cov1 = score1["coverage"]["value"]
    print(
        f"coverage before {cov0:.3f} after {cov1:.3f}; bias {score0['completion']} -> {score1['completion']}"
    )
    assert cov1 >= 0.7, score1["coverage"]
    assert cov1 > cov0 + 0.2
    assert abs(score1["completion"]["bias_s"]) < abs(score0["completion"]["bias_s"])


def test_calibration_closes_the_loop_on_a_known_truth(tmp_path: Path) -> None:
    def record(plant_path: Path, truth_path: Path, db: str) -> None:
        plant, _ = load_plant(plant_path)
        truth, _ = load_plant(truth_path)
        orders = load_orders(plant_path.parent / "orders.csv", plant)
        with HistoryStore(db) as store:
            store.record_run("sync", started_by="test", plant=plant)
            record_floor(plant, orders, 2 * 86400.0, store, truth=truth, seed=5)

    _loop(tmp_path, record, days=2, reps=12)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_calibration_closes_the_loop_over_opc_ua(tmp_path: Path) -> None:
    """The same through a real virtual plant (`--truth`) and sync client over 127.0.0.1."""
    from sync.client import SyncClient
    from sync.virtual.server import VirtualPlant

    speed = 2400.0

    def record(plant_path: Path, truth_path: Path, db: str) -> None:
        plant, _ = load_plant(plant_path)
        truth, _ = load_plant(truth_path)
        orders = load_orders(plant_path.parent / "orders.csv", plant)

        async def run() -> None:
            with HistoryStore(db) as store:
                store.record_run("sync", started_by="test", plant=plant)
                async with (
                    VirtualPlant(plant, truth=truth, port=0, speed=speed, seed=5, feed=orders) as vp,
                    SyncClient(plant, vp.endpoint, sink=store, batch_rows=500) as _client,
                ):
                    assert vp.env is not None
                    while vp.env.now < DAYS * 86400.0:
                        await asyncio.sleep(0.5)
                    await asyncio.sleep(1.0)

        asyncio.run(run())

    _loop(tmp_path, record, days=DAYS, reps=20)
