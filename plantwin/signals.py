"""Ctrl-C and SIGTERM for the long-running services: set the stop event, shut down cleanly.

CP-SAT would install its own SIGINT handler during a solve and reset SIGINT to the default
action (terminate) when the solve ends; the planner turns that off (`catch_sigint_signal`), so
the handlers installed here once stay in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def keep_signal_handlers(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    """(Re-)install `callback` for SIGINT and SIGTERM on `loop` (call from the loop's thread)."""
    for sig in SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, callback)
