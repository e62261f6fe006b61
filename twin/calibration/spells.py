"""From a station's state changes to the spells the estimators need (pure).

The simulator's failure clock runs only while a machine is busy (Execute or Setup), and a
repair or a setup pauses over an off-shift period (Stopped) or maintenance and resumes after
it. So, read from a station's state sequence:

- failure-exposed time = time in Execute or Setup; a failure = entering Aborted from a busy state;
- a repair = the Aborted time from that failure until the station is busy or idle again,
  summing only Aborted time (a pause in Stopped or Maintenance is not repair time); a repair
  still open at the end of the window is censored; one already running at the start of the
  window (its beginning unseen) is left out;
- a setup = the Setup time from entering Setup until Execute, pauses (Stopped, Maintenance,
  a breakdown) excluded; one still open at the end or running at the start is left out.

These hold exactly for a station with one machine. The station-level state of a station
with several machines shows its busiest machine, which hides a failure of one machine while
another works: callers skip such stations for failures and setups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twin.states import MachineState

BUSY = frozenset({MachineState.EXECUTE.value, MachineState.SETUP.value})
PAUSE = frozenset({MachineState.STOPPED.value, MachineState.MAINTENANCE.value})
ABORTED = MachineState.ABORTED.value
SETUP = MachineState.SETUP.value


@dataclass(frozen=True)
class FailureSpells:
    """What a window of one station's states says about its failures."""

    exposed: float
    failures: int
    repairs: tuple[float, ...]
    open_repair: float | None


@dataclass(frozen=True)
class SetupSpell:
    """One observed setup: when it began and how much Setup time it took."""

    start: float
    duration: float


def _segments(changes: Sequence[tuple[float, str]], end: float) -> list[tuple[str, float, float]]:
    """(state, start, end) segments from sorted (time, state) changes up to `end`."""
    out = []
    for i, (t, state) in enumerate(changes):
        t_next = changes[i + 1][0] if i + 1 < len(changes) else end
        if t_next > t:
            out.append((state, t, min(t_next, end)))
    return out


def failure_spells(changes: Sequence[tuple[float, str]], end: float) -> FailureSpells:
    """Failure-exposed time, failures and repair durations of one station (see module docstring)."""
    exposed = 0.0
    failures = 0
    repairs: list[float] = []
    current: float | None = None  # Aborted time of the repair in progress
    seen_start = False  # True once the current repair's beginning was observed
    prev: str | None = None
    for state, t0, t1 in _segments(changes, end):
        if state in BUSY:
            if current is not None and seen_start:
                repairs.append(current)
            current = None
            exposed += t1 - t0
        elif state == ABORTED:
            if current is None:
                seen_start = prev is not None and prev in BUSY
                if seen_start:
                    failures += 1
                current = 0.0
            current += t1 - t0
        elif state not in PAUSE:  # Idle, Starved, Blocked, Held: the machine is repaired
            if current is not None and seen_start:
                repairs.append(current)
            current = None
        prev = state
    open_repair = current if current is not None and seen_start else None
    return FailureSpells(exposed, failures, tuple(repairs), open_repair)


def setup_spells(changes: Sequence[tuple[float, str]], end: float) -> list[SetupSpell]:
    """Completed setups of one station, pauses excluded (see module docstring)."""
    spells: list[SetupSpell] = []
    start: float | None = None
    acc = 0.0
    complete = True
    first = True
    for state, t0, t1 in _segments(changes, end):
        if state == SETUP:
            if start is None:
                start, acc, complete = t0, 0.0, not first
            acc += t1 - t0
        elif state in PAUSE or state == ABORTED:
            pass
        elif start is not None:
            if complete:
                spells.append(SetupSpell(start, acc))
            start = None
        first = False
    return spells
