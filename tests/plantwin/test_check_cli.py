"""`plantwin check` and `plantwin samples` through the real command line.

The contract (scripts and CI use it): one line per problem on stderr,
'plantwin: error: <file>:<line>: <field path>: what is wrong', exit 2 for a user mistake,
1 for an internal failure, 0 otherwise; with --json stdout holds one JSON object and nothing
else; never a traceback for a user mistake.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import plantwin.cli
from plantwin.cli import app
from twin.capacity import capacity_for_orders
from twin.orders import Order
from twin.plant import Plant
from twin.samples import list_samples

RUNNER = CliRunner()
ERROR_LINE = re.compile(
    r"^plantwin: (error|warning): (?P<file>[^:]+):(?P<line>\d+): (?P<path>[^:]+): (?P<msg>.+)$"
)

GOOD = """\
name: little
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations:
      - {id: a}
      - {id: b, machines: 2}
products:
  - id: p
    routing:
      - {id: o1, stations: a, time: 30}
      - {id: o2, stations: b, time: {exponential: 50}}
"""
ORDERS = "id,product,quantity,release,due\nA,p,10,0,2h\nB,p,5,1h,3h\n"


def run(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_check_demo_prints_summary_and_capacity(demo_plant: Plant, demo_orders: list[Order]) -> None:
    code, out, err = run("check", "demo")
    assert code == 0, err
    assert "demo" in out and "2 lines, 11 stations, 13 machines, 5 products" in out
    assert f"{len(demo_orders)} orders, {sum(o.quantity for o in demo_orders)} units" in out
    for station in ("saw", "cnc1", "cnc2", "assembly", "pack"):
        assert station in out
    assert f"Bottleneck: {capacity_for_orders(demo_plant, demo_orders).bottleneck.station}" in out
    assert err == ""


def test_check_demo_json_is_one_object_and_nothing_else(demo_plant: Plant, demo_orders: list[Order]) -> None:
    code, out, err = run("check", "demo", "--json")
    assert code == 0 and err == ""
    payload = json.loads(out)  # fails on anything besides one JSON document
    assert out.strip().startswith("{") and out.strip().endswith("}")
    assert payload["plant"] == "demo" and payload["stations"] == 11 and payload["orders"] == 40
    assert payload["content_hash"] == demo_plant.content_hash()
    assert payload["products"] == ["PUMP-S", "PUMP-L", "VALVE", "MOUNT", "SEALKIT"]
    assert payload["calendars"] == ["two-shift"] and payload["warnings"] == []
    expected = capacity_for_orders(demo_plant, demo_orders)
    assert payload["capacity"]["basis"] == "orders"
    assert payload["capacity"]["bottleneck"] == expected.bottleneck.station
    loads = {s["station"]: s["load"] for s in payload["capacity"]["stations"]}
    assert loads == pytest.approx({s.station: s.load for s in expected.stations}, abs=1e-4)


def test_check_order_stream_sample_json() -> None:
    code, out, _ = run("check", "single", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["orders"] == 0
    assert payload["capacity"]["basis"] == "order_stream"
    assert payload["capacity"]["stations"][0]["load"] == pytest.approx(0.8)


def test_check_a_file_a_directory_and_an_order_book(tmp_path: Path) -> None:
    plant = write(tmp_path, "plant.yaml", GOOD)
    code, out, _ = run("check", str(plant))
    assert code == 0 and "No order book or order stream" in out
    code, out, _ = run("check", str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["capacity"] is None
    for name, text in (
        ("orders.csv", ORDERS),
        ("orders.json", json.dumps([{"id": "A", "product": "p", "quantity": 10, "due": "2h"},
                                    {"id": "B", "product": "p", "quantity": 5, "release": 3600,
                                     "due": "3h"}])),
    ):  # fmt: skip
        code, out, _ = run("check", str(plant), "--orders", str(write(tmp_path, name, text)), "--json")
        payload = json.loads(out)
        assert code == 0 and payload["orders"] == 2
        # a: 15 units x 30 s over 3 h of an always-on station.
        a = next(s for s in payload["capacity"]["stations"] if s["station"] == "a")
        assert a["demand_s"] == 450.0 and a["available_s"] == 3 * 3600.0


def assert_user_error(code: int, out: str, err: str, file: str, line: int, path: str, phrase: str) -> None:
    assert code == 2, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert lines and all(ln.startswith("plantwin: ") for ln in lines), err
    hits = [m for m in map(ERROR_LINE.match, lines) if m and m["file"] == file and int(m["line"]) == line]
    assert any(m["path"] == path and phrase in m["msg"] for m in hits), err


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_plant_error_format_and_exit_2(tmp_path: Path, json_flag: list[str]) -> None:
    bad = write(tmp_path, "plant.yaml", GOOD.replace("stations: b,", "stations: bee,"))
    code, out, err = run("check", str(bad), *json_flag)
    assert_user_error(
        code, out, err, str(bad), 12, "products[0].routing[1].stations[0]", "unknown station 'bee'"
    )
    assert out == ""  # nothing on stdout, not even with --json


@pytest.mark.parametrize(
    ("name", "text", "line", "path", "phrase"),
    [
        ("orders.csv", ORDERS + "C,q,1,0,1h\n", 4, "product", "unknown product 'q'"),
        ("orders.csv", ORDERS + "C,p,0,0,1h\n", 4, "quantity", "got '0', expected a whole number from 1"),
        ("orders.csv", ORDERS + "C,p,1,2h,1h\n", 4, "due", "before the release"),
        ("orders.csv", ORDERS + "A,p,1,0,1h\n", 4, "id", "appears twice"),
        ("orders.csv", ORDERS + "C,p,1,0,next week\n", 4, "due", "cannot read time"),
        ("orders.json", '[\n {"id": "A", "product": "p",\n  "quantity": -2, "due": 60}\n]', 3, "[0].quantity",
         "whole number"),
    ],
)  # fmt: skip
def test_order_error_format_and_exit_2(
    tmp_path: Path, name: str, text: str, line: int, path: str, phrase: str
) -> None:
    plant = write(tmp_path, "plant.yaml", GOOD)
    orders = write(tmp_path, name, text)
    code, out, err = run("check", str(plant), "--orders", str(orders), "--json")
    assert_user_error(code, out, err, str(orders), line, path, phrase)
    assert out == ""


def test_missing_order_columns_name_line_1(tmp_path: Path) -> None:
    plant = write(tmp_path, "plant.yaml", GOOD)
    orders = write(tmp_path, "o.csv", "id,product,due\nA,p,1h\n")
    code, _, err = run("check", str(plant), "--orders", str(orders))
    assert code == 2 and err.strip() == f"plantwin: error: {orders}:1: header lacks column(s) quantity"


def test_unknown_plant_and_missing_orders_are_user_errors(tmp_path: Path) -> None:
    code, out, err = run("check", "no-such-plant")
    assert code == 2 and out == ""
    assert err.startswith("plantwin: error: no-such-plant: no such plant file or sample (samples: ")
    code, _, err = run("check", "demo", "--orders", str(tmp_path / "none.csv"))
    assert code == 2 and err.strip() == f"plantwin: error: {tmp_path / 'none.csv'}: file not found"


def test_warnings_go_to_stderr_or_into_the_json(tmp_path: Path) -> None:
    plant = write(
        tmp_path,
        "plant.yaml",
        GOOD.replace("      - {id: b, machines: 2}\n", "      - {id: b, machines: 2}\n      - {id: spare}\n"),
    )
    code, out, err = run("check", str(plant))
    assert code == 0
    m = ERROR_LINE.match(err.strip())
    assert (
        m
        and m[1] == "warning"
        and (m["file"], m["line"], m["path"]) == (str(plant), "8", "lines[0].stations[2].id")
    )
    code, out, err = run("check", str(plant), "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["warnings"] == [
        f"{plant}:8: lines[0].stations[2].id: station 'spare' is used by no routing"
    ]


def test_samples_lists_every_shipped_plant() -> None:
    code, out, _ = run("samples", "--json")
    assert code == 0
    listed = json.loads(out)["samples"]
    assert listed == {name: str(path) for name, path in list_samples().items()}
    assert all(Path(p).is_file() for p in listed.values())
    code, out, _ = run("samples")
    assert code == 0
    assert [ln.split()[0] for ln in out.splitlines()] == sorted(listed)


def test_help_lists_the_commands() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "check" in out and "samples" in out
    code, out, _ = run("check", "--help")
    assert code == 0 and "--orders" in out and "--json" in out


def test_internal_failure_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("plantwin.commands.check.capacity_for_orders", broken)
    monkeypatch.setattr(sys, "argv", ["plantwin", "check", "demo"])
    with pytest.raises(SystemExit) as info:
        plantwin.cli.main()
    assert info.value.code == 1
    assert "plantwin: internal error: RuntimeError: boom" in capsys.readouterr().err


def test_real_process_long_error_lines_are_not_wrapped(tmp_path: Path) -> None:
    """The console script's stderr, as a CI script reads it (not a terminal, no COLUMNS)."""
    deep = tmp_path / ("a-rather-long-directory-name-" * 3)
    deep.mkdir()
    bad = write(
        deep,
        "plant.yaml",
        GOOD.replace("time: 30}", "time: {triangular: [30, 20, 10]}}").replace(
            "id: b,", "id: b, machnes: 2,"
        ),
    )
    env = {"PATH": "/usr/bin:/bin", "TERM": "dumb"}
    proc = subprocess.run(
        [sys.executable, "-m", "plantwin.cli", "check", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) >= 2 and all(ERROR_LINE.match(ln) for ln in lines), proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "plantwin.cli", "check", "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["plant"] == "demo"
