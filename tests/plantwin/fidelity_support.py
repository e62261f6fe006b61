"""A small plant with a known truth for the calibration/fidelity tests (no test in this file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from plantwin.cli import app
from twin.calibration.rewrite import rewrite_values

PLANT = """\
# cellworks: a saw, a mill and a check station in one line, two shifts every day
name: cellworks
epoch: 2026-11-30T00:00:00+00:00
orders: orders.csv   # relative to this file
calendars:
  two-shift:
    shifts:
      - {name: early, days: mon-sun, start: "06:00", end: "14:00"}
      - {name: late, days: mon-sun, start: "14:00", end: "22:00"}
lines:
  - id: L
    calendar: two-shift
    stations:
      - id: cut
        failures: {mtbf: {exponential: 8h}, mttr: {exponential: 20m}}
        setups: {default: 10m}
      - id: mill
        failures: {mtbf: {exponential: 6h}, mttr: {lognormal: {mean: 15m, cv: 0.5}}}
      - id: check
products:
  - id: A
    family: a
    routing:
      - {id: cut, stations: cut, time: {triangular: [20, 25, 35]}}
      - {id: mill, stations: mill, time: {lognormal: {mean: 60, cv: 0.2}}}
      - {id: check, stations: check, time: {exponential: 20}, yield: 0.95}
  - id: B
    family: b
    routing:
      - {id: cut, stations: cut, time: {triangular: [15, 20, 30]}}
      - {id: mill, stations: mill, time: {lognormal: {mean: 45, cv: 0.2}}}
      - {id: check, stations: check, time: {exponential: 15}, yield: 0.97}
"""

TRUTH_CHANGES: dict[tuple[str | int, ...], Any] = {
    ("products", 0, "routing", 1, "time"): {"lognormal": {"mean": 75, "cv": 0.2}},  # a slower operation
    ("lines", 0, "stations", 1, "failures", "mtbf"): {"exponential": "2h"},  # failing more often
    ("products", 0, "routing", 2, "yield"): 0.85,  # a lower yield
}
TRUTH = {
    "products.A.routing.mill.time": 75.0,
    "stations.mill.failures.mtbf": 7200.0,
    "products.A.routing.check.yield": 0.85,
}


def write_orders(path: Path, days: int, per_day: int = 8) -> None:
    """Orders released every two working hours, alternating products, due a day later."""
    rows = ["id,product,quantity,release,due"]
    k = 0
    for d in range(days):
        for i in range(per_day):
            release = d * 86400 + 6 * 3600 + i * 7200
            product = "A" if k % 2 == 0 else "B"
            rows.append(f"O{k:03d},{product},{90 if product == 'A' else 80},{release},{release + 86400}")
            k += 1
    path.write_text("\n".join(rows) + "\n")


def write_case(root: Path, days: int) -> tuple[Path, Path]:
    """plant.yaml, truth.yaml and orders.csv under `root`; returns (plant, truth) paths."""
    root.mkdir(parents=True, exist_ok=True)
    plant = root / "plant.yaml"
    plant.write_text(PLANT)
    truth = root / "truth.yaml"
    truth.write_text(rewrite_values(PLANT, TRUTH_CHANGES).replace("name: cellworks", "name: cellworks", 1))
    write_orders(root / "orders.csv", days)
    return plant, truth


def cli_json(*args: str) -> dict[str, Any]:
    """Run a plantwin command with --json; its stdout parsed (fails on a non-zero exit)."""
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def parameters(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["path"]: p for p in report["parameters"]}
