"""Time buckets for the history queries: fixed widths, shifts from the plant's calendars, days.

Buckets are small tables (one row per bucket) built here and joined in DuckDB; the events
themselves are never loaded into Python.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta

import numpy as np
import pandas as pd

from twin.calendar import CalendarSpec
from twin.errors import HistoryError
from twin.plant import Plant
from twin.timeutil import to_seconds

MAX_BUCKETS = 200_000
MAX_MINUTES = 3_000_000


def fixed_buckets(start: float, end: float, width: float) -> pd.DataFrame:
    """Buckets [k*width, (k+1)*width) covering [start, end), aligned to the plant epoch."""
    if not width > 0:
        raise HistoryError(f"bucket width must be positive seconds, got {width!r}")
    first, last = math.floor(start / width), math.ceil(end / width)
    if last - first > MAX_BUCKETS:
        raise HistoryError(f"{last - first} buckets of {width:g} s: too many; use a wider bucket")
    ks = list(range(first, max(last, first + 1)))
    return pd.DataFrame(
        {
            "bucket": ks,
            "b_start": [k * width for k in ks],
            "b_end": [(k + 1) * width for k in ks],
            "label": [""] * len(ks),
        }
    )


def _day_range(plant: Plant, start: float, end: float) -> list[datetime]:
    """Local calendar days (as midnights in the epoch's zone) touching [start - 1 day, end]."""
    tz = plant.epoch.tzinfo
    first = (plant.epoch + timedelta(seconds=start)).astimezone(tz).date() - timedelta(days=1)
    last = (plant.epoch + timedelta(seconds=end)).astimezone(tz).date()
    n = (last - first).days + 1
    return [datetime.combine(first + timedelta(days=k), time(0), tz) for k in range(n)]


def shift_windows(
    plant: Plant, spec: CalendarSpec | None, start: float, end: float
) -> list[tuple[float, float, str]]:
    """(start, end, label) of every shift of `spec` overlapping [start, end), in plant seconds.

    A shift runs from its start to its end clock time (breaks inside it included); a station
    without a calendar gets one bucket per local day. Calendar exceptions (holidays, extra
    shifts) do not change the buckets: a holiday shift is a bucket whose machines are stopped.
    """
    out: list[tuple[float, float, str]] = []
    for midnight in _day_range(plant, start, end):
        day = midnight.date()
        if spec is None:
            a = to_seconds(midnight, plant.epoch)
            out.append((a, a + 86400.0, f"{day.isoformat()}"))
            continue
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
        for shift in spec.shifts:
            if weekday not in shift.days:
                continue
            s_dt = datetime.combine(day, shift.start, midnight.tzinfo)
            e_dt = datetime.combine(day, shift.end, midnight.tzinfo)
            if e_dt <= s_dt:
                e_dt += timedelta(days=1)
            out.append((to_seconds(s_dt, plant.epoch), to_seconds(e_dt, plant.epoch), f"{day} {shift.name}"))
    return sorted((a, b, n) for a, b, n in out if b > start and a < end)


def station_shifts(plant: Plant, start: float, end: float) -> pd.DataFrame:
    """Per station, its shifts overlapping [start, end): station, shift, s_start, s_end."""
    rows: list[tuple[str, str, float, float]] = []
    for station in plant.stations:
        name = plant.calendar_name(station.id)
        spec = plant.calendars.get(name) if name else None
        for a, b, label in shift_windows(plant, spec, start, end):
            rows.append((station.id, label, a, b))
    return pd.DataFrame(rows, columns=["station", "shift", "s_start", "s_end"])


def plant_shift_buckets(plant: Plant, start: float, end: float) -> pd.DataFrame:
    """Buckets partitioning [start, end) by the plant's main calendar (the first line's that has
    one): each shift is a bucket, and the time between shifts a bucket labelled 'off'."""
    spec = next((plant.calendars[ln.calendar] for ln in plant.lines if ln.calendar), None)
    if spec is None and plant.calendars:
        spec = next(iter(plant.calendars.values()))
    windows = shift_windows(plant, spec, start, end)
    rows: list[tuple[float, float, str]] = []
    cursor = start
    for a, b, label in windows:
        a, b = max(a, start), min(b, end)
        if a > cursor:
            rows.append((cursor, a, "off"))
        if b > max(a, cursor):
            rows.append((max(a, cursor), b, label))
        cursor = max(cursor, b)
    if cursor < end:
        rows.append((cursor, end, "off"))
    if len(rows) > MAX_BUCKETS:
        raise HistoryError(f"{len(rows)} shift buckets: too many; narrow the time window")
    return pd.DataFrame(
        {
            "bucket": list(range(len(rows))),
            "b_start": [r[0] for r in rows],
            "b_end": [r[1] for r in rows],
            "label": [r[2] for r in rows],
        }
    )


def minute_lookup(table: pd.DataFrame, start: float, end: float) -> pd.DataFrame | None:
    """minute -> bucket for every plant minute in [start, end), when every bucket boundary
    inside the window falls on a whole minute (so no minute straddles two buckets); else None.

    Joining events to this by `floor(t / 60)` is a hash lookup, much cheaper than an as-of join.
    """
    inner = table["b_start"].to_numpy()[1:]
    first, last = math.floor(start / 60.0), math.ceil(end / 60.0)
    if (len(inner) and not bool(np.all(inner % 60.0 == 0))) or last - first > MAX_MINUTES:
        return None
    minute = np.arange(first, max(last, first + 1), dtype=np.int64)
    at = np.maximum(minute * 60.0, start)
    index = np.searchsorted(table["b_start"].to_numpy(), at, side="right") - 1
    return pd.DataFrame({"minute": minute, "bucket": table["bucket"].to_numpy()[np.clip(index, 0, None)]})


def station_minute_lookup(shifts: pd.DataFrame, start: float, end: float) -> pd.DataFrame | None:
    """(station, minute) -> shift for every minute inside a station's shifts, when every shift
    boundary (other than the window's own start and end) is a whole minute; else None."""
    bounds = np.concatenate([shifts["s_start"].to_numpy(), shifts["s_end"].to_numpy()])
    inner = bounds[(bounds != start) & (bounds != end)]
    if not bool(np.all(inner % 60.0 == 0)):
        return None
    firsts = np.floor(shifts["s_start"].to_numpy() / 60.0).astype(np.int64)
    lasts = np.ceil(shifts["s_end"].to_numpy() / 60.0).astype(np.int64)
    counts = np.maximum(lasts - firsts, 0)
    if int(counts.sum()) > MAX_MINUTES:
        return None
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return pd.DataFrame(
        {
            "station": np.repeat(shifts["station"].to_numpy(), counts),
            "shift": np.repeat(shifts["shift"].to_numpy(), counts),
            "minute": np.repeat(firsts, counts) + offsets,
        }
    )
