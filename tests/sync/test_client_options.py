"""The OPC UA client options are one set (plantwin.opcua_options) on every command that talks to a
server: a secured connection needs a trust list, a password needs encryption, on each of them.

In-process (typer's CliRunner, stderr apart): these are option checks, made before any
connection; a real process costs seconds of start-up each (its exit code and one-line stderr
are tested in tests/plantwin/test_check_cli.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plantwin.cli import app
from sync.security import make_certificate

ENDPOINT = "opc.tcp://127.0.0.1:9"  # nothing listens there (4840, OPC UA's default, may be taken)
COMMANDS = [
    ["sync", "demo", "--endpoint", ENDPOINT],
    ["live", "demo", "--endpoint", ENDPOINT],
    ["dispatch", "some-run", "--endpoint", ENDPOINT],
]


@dataclass(frozen=True)
class Ran:
    returncode: int
    stderr: str


def _run(argv: list[str], cwd: Path) -> Ran:
    res = CliRunner().invoke(app, argv)
    # a command that fails with a traceback ends on an exception other than SystemExit
    crashed = res.exception is not None and not isinstance(res.exception, SystemExit)
    return Ran(res.exit_code, res.stderr + ("\nTraceback: " + repr(res.exception) if crashed else ""))


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_security_without_a_trust_list_is_refused_before_connecting(argv: list[str], tmp_path: Path) -> None:
    cert, key = tmp_path / "c.der", tmp_path / "c.pem"
    make_certificate(cert, key, "urn:plantwin:test", server=False)
    res = _run(
        [*argv, "--security", "Basic256Sha256,SignAndEncrypt", "--cert", str(cert), "--key", str(key)],
        tmp_path,
    )
    assert res.returncode == 2, res.stderr
    assert "needs a trust list" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_a_password_is_never_sent_unencrypted(argv: list[str], tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text("secret\n")
    res = _run([*argv, "--user", "operator", "--password-file", str(pw)], tmp_path)
    assert res.returncode == 2, res.stderr
    assert "SignAndEncrypt" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_every_client_command_takes_a_trust_list(argv: list[str], tmp_path: Path) -> None:
    cert, key = tmp_path / "c.der", tmp_path / "c.pem"
    make_certificate(cert, key, "urn:plantwin:test", server=False)
    (tmp_path / "trust").mkdir()
    secured = ["--security", "Basic256Sha256,SignAndEncrypt", "--cert", str(cert), "--key", str(key)]
    # no server there: past the options, the command fails on the endpoint (or the missing history)
    extra = [] if argv[0] == "live" else ["--db", str(tmp_path / "h.duckdb")]
    res = _run([*argv, *secured, "--trust", str(tmp_path / "trust"), *extra], tmp_path)
    assert res.returncode != 0
    assert "No such option" not in res.stderr and "needs a trust list" not in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
