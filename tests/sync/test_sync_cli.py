"""`plantwin sync` refuses, with exit 2 and a reason, what it must not do (no server needed)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plantwin.cli import app
from twin.schedule import Schedule, ScheduledOperation
from twin.verdict import AcceptancePolicy, Verdict

PLANT = "single"
ENDPOINT = "opc.tcp://127.0.0.1:9"  # nothing listens there


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    plan = Schedule((ScheduledOperation("X1", 0, "serve", "server", 0, 0.0, 60.0),), plant_hash="h")
    other = Verdict("0" * 64, True, (), (), (), 30, 1, AcceptancePolicy())
    refused = Verdict(
        plan.content_hash(), False, ("order X1 late in 28 of 30 runs",), (), (), 30, 1, AcceptancePolicy()
    )
    out = {
        "plan": tmp_path / "plan.json",
        "other": tmp_path / "other.json",
        "refused": tmp_path / "refused.json",
    }
    out["plan"].write_text(plan.to_json())
    out["other"].write_text(json.dumps(asdict(other)))
    out["refused"].write_text(json.dumps(asdict(refused)))
    return out


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["sync", PLANT, "--endpoint", ENDPOINT, *args])
    return result.exit_code, result.output


def test_dispatch_needs_an_accepted_verdict_for_that_schedule(files: dict[str, Path]) -> None:
    code, out = _run("--dispatch", str(files["plan"]))
    assert code == 2 and "has no verdict" in out
    code, out = _run("--dispatch", str(files["plan"]), "--verdict", str(files["other"]))
    assert code == 2 and "not for this schedule" in out
    code, out = _run("--dispatch", str(files["plan"]), "--verdict", str(files["refused"]))
    assert code == 2 and "late in 28 of 30 runs" in out


def test_bad_options_and_an_unreachable_server_are_user_errors(tmp_path: Path) -> None:
    code, out = _run("--security", "Basic128,Sign", "--cert", "c", "--key", "k")
    assert code == 2 and "unknown security policy" in out
    code, out = _run("--user", "op")
    assert code == 2 and "--password-file" in out
    code, out = _run("--duration", "1")
    assert code == 2 and "cannot connect" in out
