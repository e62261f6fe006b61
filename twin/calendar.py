"""Shift calendars: weekly patterns with breaks and exceptions, compiled to working intervals.

A `CalendarSpec` is what the YAML says; `WorkingTime` is the compiled form the
simulator and the planner use: a sorted list of disjoint [start, end) working
intervals in plant seconds, with the queries both need (is it working now, when
does work resume, when does it stop, how much working time lies between two
instants, when is `work` seconds of working time done).
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twin.timeutil import to_seconds

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
INF = float("inf")


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 06:00 unquoted as sexagesimal minutes (360): undo that.
        return time(value // 60 % 24, value % 60)
    try:
        hh, mm = str(value).strip().split(":")[:2]
        if hh == "24" and mm == "00":
            return time(0, 0)
        return time(int(hh), int(mm))
    except (ValueError, TypeError):
        raise ValueError(f"expected a clock time like '06:00', got {value!r}") from None


def _days(value: Any) -> tuple[str, ...]:
    if not isinstance(value, str | list | tuple):
        raise ValueError(f"expected a day, a day range or a list of days (e.g. 'mon-fri'), got {value!r}")
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        text = str(item).strip().lower()[:3] if "-" not in str(item) else str(item).lower()
        if "-" in text:
            a, b = (p.strip()[:3] for p in text.split("-", 1))
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"unknown day range {item!r}; use e.g. 'mon-fri'")
            i, j = DAYS.index(a), DAYS.index(b)
            out.extend(DAYS[i : j + 1] if i <= j else DAYS[i:] + DAYS[: j + 1])
        elif text in DAYS:
            out.append(text)
        else:
            raise ValueError(f"unknown day {item!r}; use mon..sun")
    return tuple(dict.fromkeys(out))


class Break(BaseModel):
    """A pause inside a shift (clock times)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    start: time
    end: time
    _c = field_validator("start", "end", mode="before")(_clock)


class Shift(BaseModel):
    """A weekly shift: on these days from `start` to `end` (end before start crosses midnight)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = "shift"
    days: tuple[str, ...] = DAYS[:5]
    start: time
    end: time
    breaks: tuple[Break, ...] = ()

    _c = field_validator("start", "end", mode="before")(_clock)
    _d = field_validator("days", mode="before")(_days)


class CalendarException(BaseModel):
    """A holiday (`working: false`) or an added shift (`working: true`).

    Either a whole `date`, or a `start`/`end` pair of datetimes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    day: dt.date | None = Field(default=None, alias="date")
    start: datetime | None = None
    end: datetime | None = None
    working: bool = False
    reason: str = ""

    @model_validator(mode="after")
    def _span(self) -> CalendarException:
        if self.day is None and (self.start is None or self.end is None):
            raise ValueError("an exception needs either 'date' or both 'start' and 'end'")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("exception 'end' must be after 'start'")
        return self


class CalendarSpec(BaseModel):
    """A named weekly pattern plus exceptions, as written in the plant file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    shifts: tuple[Shift, ...] = Field(min_length=1)
    exceptions: tuple[CalendarException, ...] = ()

    def compile(self, epoch: datetime, horizon: float) -> WorkingTime:
        """Working intervals from plant second 0 to `horizon` (breaks removed, exceptions applied)."""
        tz = epoch.tzinfo
        first = epoch.date() - timedelta(days=1)
        n_days = int(horizon // 86400) + 3
        spans: list[tuple[float, float, str]] = []
        for k in range(n_days):
            day = first + timedelta(days=k)
            weekday = DAYS[day.weekday()]
            for shift in self.shifts:
                if weekday not in shift.days:
                    continue
                s_dt = datetime.combine(day, shift.start, tz)
                e_dt = datetime.combine(day, shift.end, tz)
                if e_dt <= s_dt:
                    e_dt += timedelta(days=1)
                pieces = [(to_seconds(s_dt, epoch), to_seconds(e_dt, epoch))]
                for brk in shift.breaks:
                    b_s = datetime.combine(day, brk.start, tz)
                    if b_s < s_dt:
                        b_s += timedelta(days=1)
                    b_e = datetime.combine(b_s.date(), brk.end, tz)
                    if b_e <= b_s:
                        b_e += timedelta(days=1)
                    pieces = _subtract(pieces, to_seconds(b_s, epoch), to_seconds(b_e, epoch))
                spans.extend((a, b, shift.name) for a, b in pieces)
        intervals = _merge([(a, b) for a, b, _ in spans])
        for exc in self.exceptions:
            if exc.day is not None:
                a = to_seconds(datetime.combine(exc.day, time(0), tz), epoch)
                b = a + 86400.0
            else:
                assert exc.start is not None and exc.end is not None
                a, b = to_seconds(exc.start, epoch), to_seconds(exc.end, epoch)
            if exc.working:
                intervals = _merge([*intervals, (a, b)])
                spans.append((a, b, exc.reason or "extra"))
            else:
                intervals = _subtract(intervals, a, b)
        clipped = [(max(a, 0.0), min(b, horizon)) for a, b in intervals if b > 0 and a < horizon]
        shift_spans = sorted((max(a, 0.0), b, n) for a, b, n in spans if b > 0 and a < horizon)
        return WorkingTime(tuple((a, b) for a, b in clipped if b > a), horizon, tuple(shift_spans))


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(intervals: list[tuple[float, float]], a: float, b: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in intervals:
        if e <= a or s >= b:
            out.append((s, e))
            continue
        if s < a:
            out.append((s, a))
        if e > b:
            out.append((b, e))
    return out


@dataclass(frozen=True)
class WorkingTime:
    """Compiled working intervals, sorted and disjoint, up to `horizon` (always-on after it
    only if the calendar is `always`). Queries are O(log n)."""

    intervals: tuple[tuple[float, float], ...]
    horizon: float = INF
    shift_spans: tuple[tuple[float, float, str], ...] = ()

    @classmethod
    def always(cls) -> WorkingTime:
        """A station that never stops for the calendar."""
        return cls(((0.0, INF),), INF, ())

    def _index(self, t: float) -> int:
        """Index of the last interval starting at or before t (-1 if none)."""
        return bisect.bisect_right(self._starts, t) - 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", [a for a, _ in self.intervals])

    def is_working(self, t: float) -> bool:
        i = self._index(t)
        return i >= 0 and t < self.intervals[i][1]

    def next_working(self, t: float) -> float:
        """The first working instant at or after t (inf if none before the horizon)."""
        i = self._index(t)
        if i >= 0 and t < self.intervals[i][1]:
            return t
        return self.intervals[i + 1][0] if i + 1 < len(self.intervals) else INF

    def next_off(self, t: float) -> float:
        """When the working interval containing t ends (t itself if t is off shift)."""
        i = self._index(t)
        if i >= 0 and t < self.intervals[i][1]:
            return self.intervals[i][1]
        return t

    def working_seconds(self, a: float, b: float) -> float:
        """Working time inside [a, b)."""
        if b <= a:
            return 0.0
        total = 0.0
        i = max(self._index(a), 0)
        while i < len(self.intervals) and self.intervals[i][0] < b:
            s, e = self.intervals[i]
            total += max(0.0, min(e, b) - max(s, a))
            i += 1
        return total

    def finish(self, t: float, work: float) -> float:
        """The instant at which `work` seconds of working time, started at t, are done
        (pausing over breaks and off-shift time)."""
        if work <= 0:
            return self.next_working(t) if work == 0 and not self.is_working(t) else t
        i = max(self._index(t), 0)
        remaining = work
        while i < len(self.intervals):
            s, e = self.intervals[i]
            if e > t:
                begin = max(s, t)
                if e - begin >= remaining:
                    return begin + remaining
                remaining -= e - begin
            i += 1
        return INF

    def shift_at(self, t: float) -> str | None:
        """Name of the shift whose span contains t, if any."""
        for a, b, name in self.shift_spans:
            if a <= t < b:
                return name
            if a > t:
                break
        return None
