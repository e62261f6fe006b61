"""`plantwin dashboard`: loopback by default, refuses other addresses without authentication,
serves the app from a history file; basic authentication guards every request."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import free_port
from synthetic_history import fill_history
from typer.testing import CliRunner

from dashboards.app import BOOTSTRAP_CSS_URL, create_app
from dashboards.history_services import HistoryServices
from plantwin.cli import app as cli
from plantwin.commands.dashboard import is_loopback, parse_users
from twin.errors import InputError
from twin.history import HistoryStore
from twin.orders import Order
from twin.plant import Plant


def test_loopback_addresses() -> None:
    assert (
        is_loopback("127.0.0.1")
        and is_loopback("127.0.0.2")
        and is_loopback("::1")
        and is_loopback("localhost")
    )
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.com")


def test_users_parse_and_reject_bad_entries() -> None:
    assert parse_users("anna:s3cret\n# comment\nbob:pw:with:colons\n", "f") == {
        "anna": "s3cret",
        "bob": "pw:with:colons",
    }
    assert parse_users("a:1,b:2", "env") == {"a": "1", "b": "2"}
    with pytest.raises(InputError, match="user:password"):
        parse_users("anna", "f")


def test_refuses_a_public_address_without_authentication(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PLANTWIN_DASHBOARD_USERS"}
    result = CliRunner().invoke(
        cli, ["dashboard", "--db", str(tmp_path / "h.duckdb"), "--host", "0.0.0.0"], env=env
    )
    assert result.exit_code == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in result.output
    assert not (tmp_path / "h.duckdb").exists()  # refused before opening anything


def test_basic_authentication_guards_every_path(tmp_path: Path, demo_plant: Plant) -> None:
    store = HistoryStore(tmp_path / "h.duckdb")
    try:
        app = create_app(HistoryServices(store, demo_plant), users={"anna": "s3cret"})
        client = app.server.test_client()
        for path in ("/", "/what-if", "/_dash-layout", BOOTSTRAP_CSS_URL):
            assert client.get(path).status_code == 401
        good = base64.b64encode(b"anna:s3cret").decode()
        bad = base64.b64encode(b"anna:wrong").decode()
        assert client.get("/", headers={"Authorization": f"Basic {bad}"}).status_code == 401
        assert client.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200
    finally:
        store.close()


def test_command_serves_the_history(tmp_path: Path, demo_plant: Plant, demo_orders: list[Order]) -> None:
    db = tmp_path / "history.duckdb"
    with HistoryStore(db) as store:
        fill_history(store, demo_plant, demo_orders, seed=2)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantwin.cli", "dashboard", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/plan-vs-actual", timeout=5) as r:
                    assert r.status == 200
                    assert "plantwin" in r.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the dashboard did not start in 60 s"
                time.sleep(0.3)
        with urllib.request.urlopen(url + BOOTSTRAP_CSS_URL, timeout=5) as r:
            assert r.status == 200 and b"Bootstrap" in r.read(400)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in err
