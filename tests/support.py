"""Helpers several test suites share: the local Chromium and free loopback ports."""

from __future__ import annotations

import socket
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium (installed by `make browser`); never a browser downloaded by a test tool."""
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # this machine has no network but the package registries: without these, Chromium's own
    # background connections are refused many at a time
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1 (for a server that must be given a number)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
