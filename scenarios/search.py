"""The search behind capable-to-promise and counter-offers: the earliest due time a test passes.

Kept apart from `scenarios.promise` so that report types can use it without importing the
planner and the simulator (the dashboard reads reports and may import neither).
"""

from __future__ import annotations

import math
from collections.abc import Callable


def earliest_passing(
    passes: Callable[[float], bool],
    lo: float,
    *,
    now: float,
    first_try: float,
    resolution: float,
    horizon: float,
    what: str,
) -> tuple[float | None, list[str]]:
    """The earliest due time (to `resolution`) at which `passes` holds, searching from `lo`.

    `lo` itself is tried first, then `first_try` (a guess above it); from there the lead time
    from `now` is doubled until a due time passes, then the gap to the last failing one is
    bisected.
    The answer is always a due time that was tried and passed; None when none within
    `horizon` of `now` does (with a note saying so). Callers cache `passes` (it is usually a
    re-plan and a simulation).
    """
    if passes(lo):
        return lo, []
    bad = lo
    hi = float(math.ceil(max(first_try, lo + resolution)))
    while True:
        if hi - now > horizon:
            return None, [f"no due time within {horizon / 86400:.0f} days reaches {what}"]
        if passes(hi):
            break
        bad = hi
        hi = float(math.ceil(now + 2 * (hi - now)))
    good = hi
    while good - bad > resolution:
        mid = float(math.ceil((good + bad) / 2))
        if mid >= good:
            break
        if passes(mid):
            good = mid
        else:
            bad = mid
    return good, []
