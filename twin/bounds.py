"""The sane range of every number a user writes (plant, orders, scenarios, job-shop files).

Each bound is generous for any real plant yet small enough that the simulator and the
planner stay finite and fast: a value outside is almost always a typo (a unit slip, an
extra digit), and refusing it on load is better than a crash or an hour of computing later.
docs/plant-model.md lists them; the error for a value outside reads
`FILE:LINE: FIELD: got VALUE, expected ...`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator

YEAR = 365.25 * 86400.0

MAX_DURATION = 10 * YEAR
"""Any one duration (a processing time, setup, repair, maintenance window, lead time)."""
MAX_TIME_OFFSET = 10 * YEAR
"""Any plant time (order release and due, a delivery, a maintenance start) from the epoch."""
MAX_ORDER_WORK = 10 * YEAR
"""The expected work of one order (units x time per unit, over its routing): beyond it the
order could never finish inside the plant clock's range."""
MIN_PERIOD = 15 * 60.0
"""The shortest period of a repeating maintenance window (10 years of it: 350,000 windows)."""
MIN_MTBF = 60.0
"""The shortest mean time between failures: a machine that breaks down every few seconds
would make a simulation of thousands of machines crawl."""
MIN_INTERARRIVAL = 1.0
"""The shortest mean time between two orders of an order stream."""
EPOCH_MIN = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_MAX = datetime(2100, 1, 1, tzinfo=UTC)
"""The plant epoch: wall times more than a century after it must still be representable
(pandas' nanosecond timestamps end in 2262)."""

MAX_MACHINES = 1_000
"""Parallel machines of one station."""
MAX_BUFFER = 1_000_000
"""Places in a station's input buffer."""
MAX_CAPACITY = 10_000
"""Units of a secondary resource pool (operators, tools)."""
MAX_QUANTITY = 1_000_000
"""Units in one order (and in one order-stream draw)."""
MAX_AMOUNT = 1e9
"""Material stock, delivery and reorder quantities, consumption per unit."""
MAX_WEIGHT = 1_000.0
"""An order's tardiness weight (priority)."""
MIN_YIELD = 0.01
"""The smallest first-pass yield: below it a 'remake' plant would make 100 units per good one."""
MAX_CV = 10.0
"""Coefficient of variation of a lognormal time."""
MAX_SAMPLES = 100_000
"""Values in an empirical distribution."""
MAX_PROCESS_VALUE = 1e12
"""Magnitude of an SPC target, limit or drift."""

MAX_JSSP_JOBS = 10_000
MAX_JSSP_MACHINES = 1_000
MAX_JSSP_TIME = 10**8
"""A job-shop operation time (whole seconds, a little over 3 years)."""
MAX_JSSP_TOTAL = int(MAX_DURATION)
"""The sum of all operation times of a job-shop instance (bounds its makespan)."""

MAX_ERRORS = 50
"""At most this many errors of one file are printed; the last line says how many more."""


def show(value: object) -> str:
    """A value as the user wrote it, short: numbers plain, strings quoted, long text cut."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def out_of_range(value: object, expected: str) -> str:
    """The one wording of a bound error: 'got VALUE, expected ...'."""
    return f"got {show(value)}, expected {expected}"


def years(seconds: float) -> str:
    """A bound in seconds, as the docs write it ('10 years')."""
    return f"{seconds / YEAR:g} years"


def _number(lo: float, hi: float, lo_open: bool, integer: bool) -> Callable[[Any], Any]:
    noun = "a whole number" if integer else "a number"
    low = f"above {show(lo)}" if lo_open else f"from {show(lo)}"
    expected = f"{noun} {low} to {show(hi)}"

    def check(value: Any) -> Any:
        if value is None:
            return value
        if not ((lo < value) if lo_open else (lo <= value)) or not value <= hi:
            raise ValueError(out_of_range(value, expected))
        return value

    return check


def whole(lo: int, hi: int) -> Any:
    """An int field within [lo, hi], whose error names the value and the whole range."""
    return Annotated[int, AfterValidator(_number(lo, hi, False, True))]


def number(lo: float, hi: float, *, lo_open: bool = False) -> Any:
    """A finite float field within [lo, hi] (or (lo, hi]), whose error names the value and range."""
    return Annotated[float, AfterValidator(_number(lo, hi, lo_open, False))]
