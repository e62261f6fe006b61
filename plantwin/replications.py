"""How a command's replications run: where (`--executor`, `--workers`) and how many (`--precision`).

Every command that replicates (simulate, whatif, promise, serve, the check of
`plan --until-accepted`) takes the same options and opens its executor with `open_executor`:
`local` is a pool of worker processes on this machine, `tcp://HOST:PORT` the workers of a
Dask scheduler (the `dask` extra). Replication i draws from streams named by (seed, i), so
the numbers do not depend on where it ran.
"""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plantwin.workers import process_pool
from twin.errors import InputError, Issue
from twin.timeutil import parse_duration

if TYPE_CHECKING:
    from sim.run import Replications

CONNECT_TIMEOUT = 10.0
"""Seconds to reach a Dask scheduler and hear back from one of its workers."""

ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where replications run: 'local' (worker processes on this machine, see --workers) "
        "or a Dask scheduler address tcp://HOST:PORT (the dask extra).",
    ),
]
WorkersOption = Annotated[
    int, typer.Option("--workers", help="With --executor local: worker processes (1: in this process).")
]
PrecisionOption = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="KPI=HALF_WIDTH: replicate until the KPI's 95% CI half-width is at most HALF_WIDTH "
        "(e.g. on_time_rate=2%, makespan=30m, throughput_per_hour=0.5); --replications is the minimum.",
    ),
]
MaxReplicationsOption = Annotated[
    int, typer.Option("--max-replications", help="With --precision: stop here even if it is not reached.")
]

_ADDRESS = re.compile(r"^tcp://(?P<host>\[[0-9a-fA-F:]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class Opened:
    """An open executor and the words that name it in reports ('local processes (2)', 'dask tcp://...')."""

    executor: Executor
    name: str


@contextmanager
def open_executor(spec: str = "local", workers: int = 2, start: str = "fork") -> Iterator[Opened]:
    """The executor `--executor spec --workers N` names, closed on exit.

    Local workers are forked (`start`), as the simulator's own pool does: a command forks
    before any thread of its own would be copied, and a forked worker starts at once where a
    spawned one first imports the simulator (seconds on a busy machine, per command). A
    service with threads (OPC UA loop, dashboard) passes start="spawn".

    Raises:
        InputError: an address that is neither 'local' nor tcp://HOST:PORT, fewer than 1 worker,
            no `distributed` installed, a scheduler that cannot be reached or whose workers
            cannot run plantwin's simulator.
    """
    from sim.run import SerialExecutor

    if spec.strip().lower() == "local":
        if workers < 1:
            raise InputError(Issue(f"must be at least 1, got {workers}", "--workers"))
        if workers == 1:
            yield Opened(SerialExecutor(), "in this process")
            return
        pool = process_pool(workers, start)
        try:
            yield Opened(pool, f"local processes ({workers})")
        finally:  # queued replications are dropped on an error or Ctrl-C; running ones end, no process left
            pool.shutdown(wait=True, cancel_futures=True)
        return
    match = _ADDRESS.match(spec.strip())
    if match is None:
        raise InputError(
            Issue(f"expected 'local' or a Dask scheduler address tcp://HOST:PORT, got {spec!r}", "--executor")
        )
    host, port = match["host"].strip("[]"), int(match["port"])
    if not 0 < port < 65536:
        raise InputError(Issue(f"port out of range in {spec!r}", "--executor"))
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            Issue("a Dask executor needs the dask extra: pip install 'plantwin[dask]'", "--executor")
        ) from None
    _reachable(host, port, spec)
    try:
        client = Client(spec.strip(), timeout=f"{CONNECT_TIMEOUT}s", set_as_default=False)
    except Exception as exc:  # any failure to connect is the address's fault; reported, not swallowed
        raise InputError(Issue(f"cannot connect to the Dask scheduler {spec}: {exc}", "--executor")) from None
    try:
        _probe(client, spec)
        # pure=False: each replication is its own task (no key derived by hashing a whole plant).
        yield Opened(client.get_executor(pure=False), f"dask {spec.strip()}")
    finally:
        client.close()


def _reachable(host: str, port: int, spec: str) -> None:
    """Fail fast on a refused or unknown address (the Dask client would retry until its timeout)."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(Issue(f"cannot reach the Dask scheduler {spec}: {reason}", "--executor")) from None


def _probe(client: Any, spec: str) -> None:
    """One tiny task through the simulator's own code: the scheduler has workers that can run it."""
    from sim.streams import derive_seed

    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except Exception:  # distributed raises its own TimeoutError type here
        raise InputError(
            Issue(f"the Dask scheduler {spec} has no workers (waited {CONNECT_TIMEOUT:g} s)", "--executor")
        ) from None
    try:
        client.submit(derive_seed, 0, 0, "probe", pure=False).result(timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # e.g. a worker without plantwin installed cannot unpickle the call
        raise InputError(
            Issue(
                f"the Dask workers of {spec} cannot run plantwin's simulator (is plantwin installed "
                f"there?): {type(exc).__name__}: {exc}",
                "--executor",
            )
        ) from None


@dataclass(frozen=True)
class Precision:
    """Sequential stopping: replicate until `kpi`'s 95% CI half-width is at most `half_width`."""

    kpi: str
    half_width: float
    max_replications: int

    @property
    def target(self) -> tuple[str, float]:
        """The `target` argument of `sim.replicate` / `sim.check`."""
        return self.kpi, self.half_width

    def report(self, reps: Replications) -> dict[str, Any]:
        """For the JSON output: how many replications ran and the half-width they achieved."""
        est = reps.kpis.get(self.kpi)
        achieved = est.half_width if est is not None and est.n >= 2 else math.nan
        return {
            "kpi": self.kpi,
            "half_width_target": self.half_width,
            "half_width": achieved,
            "replications": reps.n,
            "max_replications": self.max_replications,
            "reached": achieved <= self.half_width,
        }


def parse_precision(text: str | None, max_replications: int, minimum: int) -> Precision | None:
    """`--precision KPI=HALF_WIDTH` with `--max-replications`; None without `--precision`.

    HALF_WIDTH is in the KPI's unit: a number, a share as a percentage ('2%' = 0.02), or a
    duration ('30m', '1h30m') for time KPIs.

    Raises:
        InputError: not KPI=HALF_WIDTH, a half-width that is not a positive number, percentage
            or duration, `minimum` (the --replications to start with) below 2, or a maximum below it.
    """
    if text is None:
        return None
    kpi, sep, value = text.partition("=")
    kpi, value = kpi.strip(), value.strip()
    if not sep or not kpi or not value:
        raise InputError(
            Issue(f"expected KPI=HALF_WIDTH (e.g. on_time_rate=2%, makespan=1h), got {text!r}", "--precision")
        )
    try:
        if value.endswith("%"):
            half_width = float(value[:-1]) / 100
        else:
            try:
                half_width = float(value)
            except ValueError:
                half_width = parse_duration(value)
    except ValueError:
        raise InputError(
            Issue(f"half-width {value!r} is not a number, a percentage or a duration", "--precision")
        ) from None
    if not math.isfinite(half_width) or half_width <= 0:
        raise InputError(Issue(f"half-width must be above 0, got {value!r}", "--precision"))
    if minimum < 2:
        raise InputError(Issue(f"with --precision, must be at least 2, got {minimum}", "--replications"))
    if max_replications < minimum:
        raise InputError(
            Issue(
                f"must be at least --replications ({minimum}), got {max_replications}",
                "--max-replications",
            )
        )
    return Precision(kpi, half_width, max_replications)
