"""`plantwin live` (stable contract) against a running virtual plant, and `--live FILE|ENDPOINT`
on simulate: warm-started, refused with exit 2 for another plant or a snapshot too old."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from plantwin.cli import app
from sync.virtual.server import VirtualPlant
from twin.loader import plant_from_text
from twin.orders import Order

PLANT = """
name: livecli
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:livecli"}
materials:
  - {id: blank, stock: 100}
lines:
  - id: L
    stations:
      - {id: saw}
      - {id: pack, machines: 2}
products:
  - id: P
    routing:
      - {id: cut, stations: saw, time: 60, consumes: {blank: 1}}
      - {id: box, stations: pack, time: 90}
"""
ORDERS = "id,product,quantity,release,due,weight\n" + "".join(
    f"O{i},P,5,{i * 100},{20000 + i * 600},1\n" for i in range(6)
)


def _invoke(args: list[str]) -> object:
    return CliRunner().invoke(app, args)


async def test_live_snapshot_and_warm_started_simulation(tmp_path: Path, shelf: Path) -> None:
    plant_file, orders_file = tmp_path / "plant.yaml", tmp_path / "orders.csv"
    plant_file.write_text(PLANT)
    orders_file.write_text(ORDERS)
    plant, _ = plant_from_text(PLANT, str(plant_file))
    orders = [Order(f"O{i}", "P", 5, release=100.0 * i) for i in range(6)]
    snap = tmp_path / "live.json"
    async with VirtualPlant(plant, port=0, speed=300, seed=2, feed=orders, shelf=shelf) as vp:
        await asyncio.sleep(2.0)
        res = await asyncio.to_thread(
            _invoke, ["live", str(plant_file), "--endpoint", vp.endpoint, "--json", "--out", str(snap)]
        )
        assert res.exit_code == 0, res.output
        text = await asyncio.to_thread(_invoke, ["live", str(plant_file), "--endpoint", vp.endpoint])
        assert text.exit_code == 0 and "saw" in text.stdout and "stock: blank" in text.stdout
        direct = await asyncio.to_thread(
            _invoke,
            ["simulate", str(plant_file), "--orders", str(orders_file), "--live", vp.endpoint,
             "--replications", "2", "--json", "--no-history"],
        )  # fmt: skip
        assert direct.exit_code == 0, direct.output
    out = json.loads(res.stdout)
    assert set(out) >= {"in_progress", "completed", "queued", "stations", "stock", "plant_hash", "time"}
    assert out["plant_hash"] == plant.content_hash()
    assert json.loads(snap.read_text())["time"] == out["time"]
    assert out["in_progress"], "two plant minutes in, something is being worked"
    for item in out["in_progress"]:
        assert set(item) >= {"order", "operation", "station", "units_done"}
        assert out["stations"][item["station"]]["state"] in ("Execute", "Setup", "Held", "Aborted")
    assert out["completed"] and out["stock"]["blank"] < 100
    assert json.loads(direct.stdout)["live"]["time"] > 0

    # a simulation warm-started from the snapshot starts at its time
    sim = _invoke(
        ["simulate", str(plant_file), "--orders", str(orders_file), "--live", str(snap),
         "--replications", "2", "--json", "--no-history"]
    )  # fmt: skip
    assert sim.exit_code == 0, sim.output
    assert json.loads(sim.stdout)["live"]["time"] == out["time"]

    # another plant: refused
    other = tmp_path / "other.yaml"
    other.write_text(PLANT.replace("time: 90", "time: 95"))
    bad = _invoke(["simulate", str(other), "--orders", str(orders_file), "--live", str(snap), "--no-history"])
    assert bad.exit_code == 2 and "another plant" in bad.output
    # too old: refused
    old = _invoke(
        ["simulate", str(plant_file), "--orders", str(orders_file), "--live", str(snap),
         "--live-max-age", "0s", "--no-history"]
    )  # fmt: skip
    assert old.exit_code == 2 and "older than" in old.output
