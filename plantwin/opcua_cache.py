"""One cache of asyncua's standard OPC UA address space for every virtual plant plantwin starts.

Building that address space takes seconds of CPU (more on a busy machine) at every server
start; asyncua can load it from a shelf file instead, in a fraction of a second. The shelf
depends only on the asyncua version, so one per user serves every `plantwin demo` (fresh or
not, whatever its --db) and every `plantwin virtual-plant`:
`$PLANTWIN_CACHE/opcua-shelf-<asyncua version>` (default `$XDG_CACHE_HOME/plantwin`, else
`~/.cache/plantwin`). It is built once, under a file lock (two starting servers never write it
at the same time), into temporary names renamed into place, and its marker file (the name
asyncua looks for) is made last: a reader sees a whole shelf or none. Where the cache cannot be
written, the server builds its address space itself, as without a cache.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from importlib.metadata import version
from pathlib import Path

from asyncua import Server

ENV_CACHE = "PLANTWIN_CACHE"
log = logging.getLogger(__name__)
_PARTS = (".dat", ".dir", ".bak")
"""The files dbm.dumb (the shelf's store) writes beside the marker."""


def cache_dir() -> Path:
    """$PLANTWIN_CACHE, else $XDG_CACHE_HOME/plantwin, else ~/.cache/plantwin."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    home = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(home) / "plantwin"


def standard_shelf(folder: Path | None = None) -> Path | None:
    """The shelf of asyncua's standard address space in `folder` (default: `cache_dir()`), built
    now if missing (blocking: seconds, once per asyncua version); None when the folder cannot be
    written (logged)."""
    marker = (folder or cache_dir()) / f"opcua-shelf-{version('asyncua')}"
    if marker.is_file():
        return marker
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        with open(marker.with_name(marker.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not marker.is_file():  # nobody built it while this process waited
                _build(marker)
    except OSError as exc:
        log.warning("no OPC UA address space cache at %s (%s): servers build it at each start", marker, exc)
        return None
    return marker


def _build(marker: Path) -> None:
    tmp = marker.with_name(f"{marker.name}.tmp{os.getpid()}")
    asyncio.run(Server().init(tmp))  # fills the address space from code, then writes the shelf at tmp
    for part in _PARTS:
        made = Path(str(tmp) + part)
        if made.exists():
            made.replace(Path(str(marker) + part))
    marker.touch()
