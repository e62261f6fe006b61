"""`plantwin whatif` and `plantwin promise` from the command line: one JSON object, exit codes, HTML."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCENARIO = """
name: flow-cli
description: f2 twice as fast
base: {plant: flowline, generate: 30m, until: 30m}
judge: {replications: 2, seed: 2, planner: {mode: rule, rule: FIFO}}
changes: [{type: cycle_time, station: f2, factor: 0.5}]
"""


def _plantwin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from plantwin.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_whatif_json_is_one_object_and_html_is_standalone(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(SCENARIO)
    html = tmp_path / "report.html"
    done = _plantwin("whatif", str(path), "--json", "--no-history", "--html", str(html), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)  # exactly one object, nothing else on stdout
    assert payload["scenario"] == "flow-cli" and payload["replications"] == 2
    row = next(c for c in payload["variants"][0]["comparison"] if c["kpi"] == "units_good")
    assert row["difference"]["mean"] > 0 and row["verdict"] == "better"
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "plotly" in page.lower() and "flow-cli" in page


def test_whatif_error_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace("station: f2", "station: f9"))
    done = _plantwin("whatif", str(path), "--no-history", cwd=tmp_path)
    assert done.returncode == 2
    assert f"plantwin: error: {path}:6: changes[0].station: unknown station 'f9'" in done.stderr
    assert "Traceback" not in done.stderr


def test_promise_json(tmp_path: Path) -> None:
    done = _plantwin(
        "promise", "part", "2", "--plant", "single", "--mode", "dispatch", "--replications", "5",
        "--resolution", "60", "--json", "--no-history", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["lower_bound"] == 96.0  # two units of 48 s, back to back, on an empty server
    assert payload["promise"] >= payload["lower_bound"] and payload["promise_time"].startswith("2026-11-30T")
    assert payload["evidence"]["due"] == payload["promise"] and payload["evidence"]["on_time"] >= 0.9
