"""The other stack: a node-opcua server laid out as a machine builder would (tests/interop/node).

`make test` installs it from the committed package-lock (`npm ci`); without node or the
installed packages these tests are skipped with the command that installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import free_port

from twin.loader import load_plant
from twin.plant import Plant

NODE_DIR = Path(__file__).parent / "node"
SERVER = NODE_DIR / "machine_server.js"


class MachineServer:
    """One node-opcua server process on 127.0.0.1:`port` (start, kill -9, start again)."""

    def __init__(self, port: int, args: list[str], log: Path) -> None:
        self.port = port
        self.log = log
        self.args = args
        self.proc: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait for its READY line (node-opcua logs on stdout too)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                ["node", str(SERVER), "--port", str(self.port), *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while f"READY {self.port}" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                tail = self.log.read_text()[-2000:]
                raise RuntimeError(f"node-opcua server did not start; its log:\n{tail}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no shutdown, as a power cut would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="session")
def node_ready() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (Node 18+ runs the interop server)")
    if not (NODE_DIR / "node_modules" / "node-opcua-server").is_dir():
        pytest.skip("node-opcua is not installed: run `make interop` (npm ci in tests/interop/node)")


@pytest.fixture
def machine_server(node_ready: None, tmp_path: Path) -> Iterator[Callable[..., MachineServer]]:
    started: list[MachineServer] = []

    def make(*args: str) -> MachineServer:
        server = MachineServer(free_port(), list(args), tmp_path / f"node-{len(started)}.log")
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill()


@pytest.fixture(scope="session")
def acme() -> Plant:
    plant, _ = load_plant(Path(__file__).parent / "acme_cell.yaml")
    return plant
