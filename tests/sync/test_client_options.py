"""The OPC UA client options are one set (plantwin.opcua_options) on every command that talks to a
server: a secured connection needs a trust list, a password needs encryption, on each of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sync.security import make_certificate

COMMANDS = [
    ["sync", "demo", "--endpoint", "opc.tcp://127.0.0.1:4840"],
    ["live", "demo", "--endpoint", "opc.tcp://127.0.0.1:4840"],
    ["dispatch", "some-run", "--endpoint", "opc.tcp://127.0.0.1:4840"],
]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plantwin.cli", *argv], capture_output=True, text=True, timeout=60, cwd=cwd
    )


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
