"""`plantwin sync` refuses, with exit 2 and a reason, what it must not do (no server needed)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from plantwin.cli import app

PLANT = "single"
ENDPOINT = "opc.tcp://127.0.0.1:9"  # nothing listens there


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["sync", PLANT, "--endpoint", ENDPOINT, *args])
    return result.exit_code, result.output


def test_sync_takes_no_schedule_to_dispatch(tmp_path: Path) -> None:
    # dispatch is `plantwin dispatch` (the one service, its verdict from the history)
    code, out = _run("--dispatch", str(tmp_path / "plan.json"))
    assert code == 2 and "No such option" in out


def test_bad_options_and_an_unreachable_server_are_user_errors(tmp_path: Path) -> None:
    code, out = _run("--security", "Basic128,Sign", "--cert", "c", "--key", "k")
    assert code == 2 and "unknown security policy" in out
    code, out = _run("--user", "op")
    assert code == 2 and "--password-file" in out
    code, out = _run("--duration", "1")
    assert code == 2 and "cannot connect" in out
