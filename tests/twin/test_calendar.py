"""Shift calendars: weekly patterns, breaks, midnight-crossing shifts, exceptions and the queries.

The plant epoch is Monday 2026-11-30 00:00 +01:00 (plant second 0); expected intervals are
worked out by hand in hours from that Monday midnight.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from twin.calendar import CalendarSpec, WorkingTime

H = 3600.0
DAY = 24 * H
EPOCH = datetime(2026, 11, 30, tzinfo=timezone(timedelta(hours=1)))  # a Monday
WEEK = 7 * DAY


def spec(data: dict | str) -> CalendarSpec:
    return CalendarSpec.model_validate(yaml.safe_load(data) if isinstance(data, str) else data)


def hours(wt: WorkingTime) -> list[tuple[float, float]]:
    return [(a / H, b / H) for a, b in wt.intervals]


EARLY = {
    "name": "early",
    "days": "mon-fri",
    "start": "06:00",
    "end": "14:00",
    "breaks": [{"start": "10:00", "end": "10:30"}],
}
LATE = {
    "name": "late",
    "days": "mon-fri",
    "start": "14:00",
    "end": "22:00",
    "breaks": [{"start": "18:00", "end": "18:30"}],
}
NIGHT = {
    "name": "night",
    "days": "mon-thu",
    "start": "22:00",
    "end": "06:00",
    "breaks": [{"start": "02:00", "end": "02:30"}],
}


def test_one_shift_with_a_break() -> None:
    wt = spec({"shifts": [EARLY]}).compile(EPOCH, WEEK)
    monday = [(6.0, 10.0), (10.5, 14.0)]
    assert hours(wt) == [(a + 24 * d, b + 24 * d) for d in range(5) for a, b in monday]
    assert wt.working_seconds(0, WEEK) == 5 * 7.5 * H


def test_two_shifts_meet_without_a_gap() -> None:
    wt = spec({"shifts": [EARLY, LATE]}).compile(EPOCH, DAY)
    assert hours(wt) == [(6.0, 10.0), (10.5, 18.0), (18.5, 22.0)]
    assert wt.shift_at(13.9 * H) == "early" and wt.shift_at(14 * H) == "late"
    assert wt.shift_at(3 * H) is None and wt.shift_at(22 * H) is None


def test_midnight_crossing_shift_and_break_after_midnight() -> None:
    wt = spec({"shifts": [NIGHT]}).compile(EPOCH, WEEK)
    # Mon 22:00 -> Tue 06:00 less 02:00-02:30 on Tuesday; the last one starts Thursday 22:00.
    per_night = [(22.0, 26.0), (26.5, 30.0)]
    assert hours(wt) == [(a + 24 * d, b + 24 * d) for d in range(4) for a, b in per_night]
    assert wt.shift_at(25 * H) == "night"  # Tuesday 01:00 belongs to Monday's night shift
    assert wt.working_seconds(0, WEEK) == 4 * 7.5 * H


def test_shift_from_the_day_before_the_epoch_is_clipped_at_zero() -> None:
    sunday_night = {"days": ["sun"], "start": "22:00", "end": "06:00"}
    wt = spec({"shifts": [sunday_night]}).compile(EPOCH, WEEK)
    assert hours(wt) == [(0.0, 6.0), (166.0, 168.0)]


def test_end_24_00_means_midnight_and_unquoted_yaml_clock_times() -> None:
    a = spec("shifts: [{days: mon, start: 14:00, end: 24:00}]").compile(EPOCH, WEEK)
    assert hours(a) == [(14.0, 24.0)]
    # YAML 1.1 reads an unquoted 06:30 as the number 390: still half past six.
    b = spec("shifts: [{days: [Monday, wed], start: 06:30, end: 07:00}]").compile(EPOCH, WEEK)
    assert hours(b) == [(6.5, 7.0), (54.5, 55.0)]


def test_day_ranges_wrap_around_the_week() -> None:
    wt = spec({"shifts": [{"days": "fri-mon", "start": "08:00", "end": "09:00"}]}).compile(EPOCH, WEEK)
    assert [a // DAY for a, _ in wt.intervals] == [0, 4, 5, 6]


def test_holiday_and_added_shift() -> None:
    cal = spec(
        {
            "shifts": [EARLY],
            "exceptions": [
                {"date": "2026-12-01", "reason": "holiday"},
                {"start": "2026-12-05T08:00:00+01:00", "end": "2026-12-05T12:00:00+01:00", "working": True,
                 "reason": "extra Saturday"},
                {"start": "2026-12-03T12:00:00+01:00", "end": "2026-12-03T13:00:00+01:00"},
            ],
        }
    )  # fmt: skip
    wt = cal.compile(EPOCH, WEEK)
    assert hours(wt) == [
        (6.0, 10.0), (10.5, 14.0),            # Monday
        (54.0, 58.0), (58.5, 62.0),           # Wednesday (Tuesday is a holiday)
        (78.0, 82.0), (82.5, 84.0), (85.0, 86.0),  # Thursday less 12:00-13:00
        (102.0, 106.0), (106.5, 110.0),       # Friday
        (128.0, 132.0),                       # the added Saturday shift
    ]  # fmt: skip
    assert wt.shift_at(130 * H) == "extra Saturday"
    assert wt.working_seconds(0, WEEK) == (4 * 7.5 - 1 + 4) * H


def test_added_whole_day_and_exception_validation() -> None:
    wt = spec({"shifts": [EARLY], "exceptions": [{"date": "2026-12-06", "working": True}]}).compile(
        EPOCH, WEEK
    )
    assert wt.intervals[-1] == (6 * DAY, 7 * DAY)
    with pytest.raises(ValidationError, match="either 'date' or both"):
        spec({"shifts": [EARLY], "exceptions": [{"start": "2026-12-01T00:00:00+01:00"}]})
    with pytest.raises(ValidationError, match="after 'start'"):
        spec(
            {
                "shifts": [EARLY],
                "exceptions": [{"start": "2026-12-02T00:00:00+01:00", "end": "2026-12-01T00:00:00+01:00"}],
            }
        )


@pytest.mark.parametrize(
    ("shift", "phrase"),
    [
        ({"start": "6am", "end": "14:00"}, "clock time"),
        ({"start": "06:00", "end": "14:00", "days": "weekdays"}, "unknown day"),
        ({"start": "06:00", "end": "14:00", "days": "mon-xyz"}, "unknown day range"),
        ({"start": "06:00", "end": "14:00", "days": 3}, "expected a day"),
        ({"start": "06:00"}, "Field required"),
        ({"start": "06:00", "end": "14:00", "crew": 3}, "Extra inputs"),
    ],
)
def test_bad_shift_fields(shift: dict, phrase: str) -> None:
    with pytest.raises(ValidationError, match=phrase):
        spec({"shifts": [shift]})
    with pytest.raises(ValidationError):
        spec({"shifts": []})


@pytest.fixture(scope="module")
def two_shift() -> WorkingTime:
    return spec({"shifts": [EARLY, LATE]}).compile(EPOCH, 2 * WEEK)


def test_queries_at_breaks_and_shift_ends(two_shift: WorkingTime) -> None:
    wt = two_shift
    assert wt.is_working(9 * H) and not wt.is_working(10.25 * H) and not wt.is_working(23 * H)
    assert wt.is_working(10.5 * H) and not wt.is_working(10 * H)  # [start, end)
    assert wt.next_working(9 * H) == 9 * H
    assert wt.next_working(10.25 * H) == 10.5 * H
    assert wt.next_working(23 * H) == DAY + 6 * H
    assert wt.next_working(4 * DAY + 23 * H) == 7 * DAY + 6 * H  # Friday night -> Monday
    assert wt.next_off(9 * H) == 10 * H and wt.next_off(23 * H) == 23 * H
    assert wt.working_seconds(9 * H, 11 * H) == 1.5 * H
    assert wt.working_seconds(11 * H, 9 * H) == 0.0


def test_finish_pauses_over_breaks_and_nights(two_shift: WorkingTime) -> None:
    wt = two_shift
    assert wt.finish(9 * H, 2 * H) == 11.5 * H  # one hour, the 10:00 break, one more
    assert wt.finish(10.2 * H, 1 * H) == 11.5 * H  # started in the break: waits for 10:30
    assert wt.finish(21 * H, 2 * H) == DAY + 7 * H  # one hour Monday, one on Tuesday
    assert wt.finish(4 * DAY + 21.5 * H, 1 * H) == 7 * DAY + 6.5 * H  # over the weekend
    assert wt.finish(9 * H, 0) == 9 * H and wt.finish(23 * H, 0) == DAY + 6 * H
    assert wt.finish(0, 1e9) == math.inf  # more work than the horizon holds


def test_always_working() -> None:
    wt = WorkingTime.always()
    assert wt.is_working(123.0) and wt.finish(10.0, 5.0) == 15.0
    assert wt.working_seconds(0, 100) == 100 and wt.next_off(5.0) == math.inf


@settings(max_examples=200, deadline=None)
@given(start=st.floats(0, WEEK), work=st.floats(0, 20 * H))
def test_finish_and_working_seconds_agree(two_shift: WorkingTime, start: float, work: float) -> None:
    end = two_shift.finish(start, work)
    assert end >= start
    assert two_shift.working_seconds(start, end) == pytest.approx(work, abs=1e-6)
    if work > 0:  # the work ends inside (or at the end of) a working interval, not in a gap
        assert any(a <= end <= b for a, b in two_shift.intervals)


@settings(max_examples=200, deadline=None)
@given(t=st.floats(-DAY, 2 * WEEK))
def test_next_working_and_next_off_bracket_t(two_shift: WorkingTime, t: float) -> None:
    nw = two_shift.next_working(t)
    assert nw >= t and (nw == math.inf or two_shift.is_working(nw))
    assert two_shift.working_seconds(t, nw) == 0 if nw < math.inf else True
    off = two_shift.next_off(t)
    assert (off > t) == two_shift.is_working(t)


def test_exceptions_apply_in_the_order_written() -> None:
    holiday = {"date": "2026-12-01"}
    extra = {"start": "2026-12-01T08:00:00+01:00", "end": "2026-12-01T09:00:00+01:00", "working": True}
    tuesday = (DAY, 2 * DAY)
    then_extra = spec({"shifts": [EARLY], "exceptions": [holiday, extra]}).compile(EPOCH, WEEK)
    assert then_extra.working_seconds(*tuesday) == 1 * H
    then_holiday = spec({"shifts": [EARLY], "exceptions": [extra, holiday]}).compile(EPOCH, WEEK)
    assert then_holiday.working_seconds(*tuesday) == 0.0
