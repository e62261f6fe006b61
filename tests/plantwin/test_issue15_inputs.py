# ruff: noqa: E501  (case tables read best one case a line)
"""The malformed inputs of issue 15, each through the real command line: exit 2, one clear line
per problem that shows the bad value, no traceback, in a few seconds.

Run in-process with typer's runner (a subprocess costs seconds of start-up per case); one
case runs as a real subprocess to pin what a user sees on the terminal.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plantwin.cli import app

RUNNER = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

PLANT = """\
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
ORDERS = "id,product,quantity,release,due\nA,p,10,0,2h\n"


def run(*args: str) -> tuple[int, str]:
    started = time.monotonic()
    result = RUNNER.invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert time.monotonic() - started < 30, "a user error must be reported at once"
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "orders.csv").write_text(ORDERS)
    return tmp_path


def plant_with(tmp_path: Path, old: str, new: str) -> Path:
    assert PLANT.count(old) == 1
    path = tmp_path / "plant.yaml"
    path.write_text(PLANT.replace(old, new))
    return path


PLANT_CASES = [
    ("time: 30}", "time: 1.0e+308}", 11, "products[0].routing[0].time", "got 1e+308, expected a duration of at most"),
    ("{id: b, machines: 2}", "{id: b, machines: 100000000000000000000}", 7, "lines[0].stations[1].machines",
     "got 100000000000000000000, expected a whole number from 1 to 1000"),
    ("epoch: 2026-11-30T00:00:00+00:00", "epoch: 9999-12-31T00:00:00+00:00", 2, "epoch",
     "got '9999-12-31T00:00:00+00:00', expected an epoch from 1970 to 2099"),
    ("{id: b, machines: 2}", '{id: b, machines: "two"}', 7, "lines[0].stations[1].machines",
     "got 'two', expected a whole number"),
    ("{id: b, machines: 2}", "{id: b, machines: 2, buffer: -1}", 7, "lines[0].stations[1].buffer",
     "got -1, expected a whole number from 0 to 1000000"),
    ("time: 30}", "time: 30, yield: 1.5}", 11, "products[0].routing[0].yield", "got 1.5, expected a number from 0.01 to 1"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "line", "path", "phrase"), PLANT_CASES)
def test_out_of_range_plant_numbers(
    files: Path, old: str, new: str, line: int, path: str, phrase: str
) -> None:
    plant = plant_with(files, old, new)
    code, err = run("check", str(plant))
    assert code == 2
    assert f"plantwin: error: {plant}:{line}: {path}: {phrase}" in err, err


def test_schema_reference_and_check_errors_come_in_one_round_in_file_order(files: Path) -> None:
    text = PLANT.replace("{id: b, machines: 2}", '{id: b, machines: "two", calendar: night}')
    text = text.replace("stations: b, time: {exponential: 50}", "stations: bee, time: {exponential: 0}")
    text = text.replace("stations: a, time: 30}", "stations: a, time: 30, yield: 1.5}")
    (files / "plant.yaml").write_text(text)
    code, err = run("check", str(files / "plant.yaml"))
    assert code == 2
    found = re.findall(r"plant\.yaml:(\d+): (\S+): (.*)", err)
    assert found == [
        ("7", "lines[0].stations[1].machines", "got 'two', expected a whole number"),
        ("7", "lines[0].stations[1].calendar", "unknown calendar 'night' (known: none)"),
        ("11", "products[0].routing[0].yield", "got 1.5, expected a number from 0.01 to 1"),
        ("12", "products[0].routing[1].time.exponential", "got 0, expected a number > 0"),
        ("12", "products[0].routing[1].stations[0]", "unknown station 'bee' (known: a, b)"),
    ], err


def test_errors_are_capped_with_a_count_of_the_rest(files: Path) -> None:
    ops = "".join(f"      - {{id: o{i}, stations: nowhere, time: 1}}\n" for i in range(80))
    text = PLANT.split("    routing:\n")[0] + "    routing:\n" + ops
    (files / "plant.yaml").write_text(text)
    code, err = run("check", str(files / "plant.yaml"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 51 and "and 30 more errors" in lines[-1]
    numbers = [int(m) for m in re.findall(r"plant\.yaml:(\d+):", err)]
    assert numbers == sorted(numbers)


ORDER_CASES = [
    ("A,p,1000000000000,0,2h\n", "quantity", "got '1000000000000', expected a whole number from 1 to"),
    ("A,p,1,9999-12-31T00:00:00+00:00,2h\n", "release", "got '9999-12-31T00:00:00+00:00', expected a time within 10 years"),
    ("A,p,1,0,1e308\n", "due", "got '1e308', expected a time within 10 years"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "field", "phrase"), ORDER_CASES)
def test_out_of_range_orders(files: Path, row: str, field: str, phrase: str) -> None:
    plant = plant_with(files, "name: little", "name: little")
    (files / "bad.csv").write_text("id,product,quantity,release,due\n" + row)
    for command in ("check", "simulate", "plan"):
        extra = ["--no-history"] if command != "check" else []
        code, err = run(command, str(plant), "--orders", str(files / "bad.csv"), *extra)
        assert code == 2
        assert f"plantwin: error: {files / 'bad.csv'}:2: {field}: {phrase}" in err, err


def test_jssp_duration_of_10_21(files: Path) -> None:
    (files / "big.txt").write_text("1 2\n0 1000000000000000000000 1 2\n")
    code, err = run("plan", "--jssp", str(files / "big.txt"), "--no-history")
    assert code == 2
    assert "big.txt:2: job 0: got 1000000000000000000000, expected a time of at most 100,000,000" in err


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


ARG_CASES = [
    (["virtual-plant", "tandem3", "--port", "99999"], "--port: got 99999, expected a port from 0 to 65535"),
    (["virtual-plant", "tandem3", "--port", "-1"], "--port: got -1, expected a port from 0 to 65535"),
    (["virtual-plant", "tandem3", "--speed", "0"], "--speed: got 0, expected a number above 0"),
    (["sync", "tandem3", "--endpoint", "opc.tcp://127.0.0.1:4840", "--status-every", "0"],
     "--status-every: got 0, expected seconds above 0 to 86400"),
    (["sync", "tandem3", "--endpoint", "opc.tcp://127.0.0.1:4840", "--duration", "-1"],
     "--duration: got -1, expected seconds from 0"),
    (["sync", "tandem3", "--endpoint", "opc.tcp://127.0.0.1:99999"], "--endpoint: got 'opc.tcp://127.0.0.1:99999'"),
    (["sync", "tandem3", "--endpoint", "http://127.0.0.1:4840"], "--endpoint: got 'http://127.0.0.1:4840', expected opc.tcp://HOST:PORT"),
    (["dashboard", "--port", "0"], "--port: got 0, expected a port from 1 to 65535"),
    (["simulate", "tandem3", "--replications", "0"], "--replications: got 0, expected a whole number from 1 to 10,000"),
    (["simulate", "tandem3", "--until", "1e308"], "--until: got '1e308', expected a duration of at most 10 years"),
    (["simulate", "tandem3", "--until", "7d", "--min-on-time", "1.5"], "--min-on-time: got 1.5, expected a share from 0 to 1"),
    (["plan", "jobshop3x3", "--time-limit", "0", "--no-history"], "--time-limit: got 0, expected a number above 0"),
    (["plan", "jobshop3x3", "--workers", "1000", "--no-history"], "--workers: got 1000, expected a whole number from 1 to 64"),
    (["plan", "jobshop3x3", "--seed", "-1", "--no-history"], "--seed: got -1, expected a seed from 0 to 2,147,483,647"),
    (["whatif", "rush-order", "--replications", "1"], "--replications: got 1, expected a whole number from 2"),
    (["promise", "job0", "0", "--plant", "jobshop3x3"], "QUANTITY: got 0, expected a whole number from 1 to 1,000,000"),
    (["promise", "job0", "1", "--plant", "jobshop3x3", "--confidence", "2"], "--confidence: got 2, expected a probability"),
    (["history", "list", "--limit", "0"], "--limit: got 0, expected a whole number from 1"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "phrase"), ARG_CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in ARG_CASES])
def test_bad_arguments(argv: list[str], phrase: str) -> None:
    code, err = run(*argv)
    assert code == 2
    assert f"plantwin: error: {phrase}" in err, err


@pytest.mark.parametrize("command", ["virtual-plant", "dashboard"])
def test_a_port_in_use(busy_port: int, command: str, tmp_path: Path) -> None:
    argv = (
        [command, "tandem3"] if command == "virtual-plant" else [command, "--db", str(tmp_path / "h.duckdb")]
    )
    code, err = run(*argv, "--port", str(busy_port))
    assert code == 2
    assert f"plantwin: error: --port: port {busy_port} on 127.0.0.1 is in use by another process" in err, err


@pytest.mark.slow  # a real process: seconds of start-up
def test_a_user_sees_one_line_and_no_traceback(busy_port: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "plantwin.cli", "virtual-plant", "tandem3", "--port", str(busy_port)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"plantwin: error: --port: port {busy_port} on 127.0.0.1 is in use by another process: "
        "stop it or choose another port"
    ]
    assert res.stdout == ""
