"""When a station does not work: off-shift periods (Stopped) and planned maintenance (Maintenance)."""

from __future__ import annotations

import itertools

from twin.plant import Plant, Station
from twin.states import MachineState
from twin.timeutil import parse_time

STOPPED = MachineState.STOPPED.value
MAINTENANCE = MachineState.MAINTENANCE.value


def off_periods(
    plant: Plant, station: Station, start: float, horizon: float
) -> list[tuple[float, float, str]]:
    """Sorted, disjoint (start, end, state) periods in which a station does not work.

    Off shift (outside the calendar's working intervals) is Stopped; planned
    maintenance over working time is Maintenance. Past the horizon it works.
    """
    bounds: list[tuple[float, float, str]] = []
    if plant.calendar_name(station.id) is not None:
        wt = plant.working_time(station.id, horizon)
        t = start
        for a, b in wt.intervals:
            if b <= t:
                continue
            if a > t:
                bounds.append((t, a, STOPPED))
            t = max(t, b)
        if t < horizon:
            bounds.append((t, horizon, STOPPED))
    windows: list[tuple[float, float]] = []
    for m in station.maintenance:
        t0 = parse_time(m.start, plant.epoch)
        t_end = parse_time(m.until, plant.epoch) if m.until is not None else horizon
        t = t0
        while t < min(t_end, horizon):
            if t + m.duration > start:
                windows.append((max(t, start), t + m.duration))
            if m.every is None:
                break
            t += m.every
    if not windows:
        return bounds
    # Maintenance is Maintenance where the calendar would have worked, Stopped elsewhere.
    cuts = sorted({start, *(x for a, b, _ in bounds for x in (a, b)), *(x for w in windows for x in w)})
    out: list[tuple[float, float, str]] = []
    for a, b in itertools.pairwise(cuts):
        mid = (a + b) / 2
        label = None
        if any(s <= mid < e for s, e, _ in bounds):
            label = STOPPED
        elif any(s <= mid < e for s, e in windows):
            label = MAINTENANCE
        if label is None:
            continue
        if out and out[-1][2] == label and out[-1][1] == a:
            out[-1] = (out[-1][0], b, label)
        else:
            out.append((a, b, label))
    return out
