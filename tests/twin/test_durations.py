"""Durations and plant times: what a user may write, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from twin.timeutil import format_duration, parse_duration, parse_time, to_datetime, to_seconds

EPOCH = datetime(2026, 11, 30, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (90, 90.0), (2.5, 2.5), ("45", 45.0), ("12.5", 12.5), ("90s", 90.0), ("5m", 300.0),
        ("5min", 300.0), ("1h30m", 5400.0), ("1h 30m", 5400.0), (" 2d ", 172800.0), ("1w", 604800.0),
        ("1.5h", 5400.0), ("1H", 3600.0), ("1d2h3m4s", 93784.0), (timedelta(minutes=2), 120.0), (0, 0.0),
    ],
)  # fmt: skip
def test_parse_duration(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize(
    "written",
    ["", "h", "5x", "1h30", "m5", "-5", "-1h", "nan", "inf", "1e999", float("nan"), float("inf"), -1,
     True, None, [1], {"h": 1}, timedelta(seconds=-1)],
)  # fmt: skip
def test_parse_duration_refuses(written: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(written)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (12.5, "12.5s"),
        (250, "4m 10s"),
        (3900, "1h 05m"),
        (2 * 86400 + 3 * 3600 + 59, "2d 3h"),
        (-90, "-1m 30s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("2026-11-30T06:00:00+01:00", 6 * 3600.0),
        ("2026-11-30T05:00:00+00:00", 6 * 3600.0),
        ("2026-11-30T06:00", 6 * 3600.0),  # naive: the plant's time zone
        ("2026-12-01", 86400.0),
        (datetime(2026, 11, 30, 7, tzinfo=timezone(timedelta(hours=1))), 7 * 3600.0),
        (3600, 3600.0),
        ("36h", 36 * 3600.0),
        ("2026-11-29T23:00:00+01:00", -3600.0),  # before the epoch is a plain negative time
    ],
)
def test_parse_time(written: object, seconds: float) -> None:
    assert parse_time(written, EPOCH) == seconds


@pytest.mark.parametrize("written", ["yesterday", "2026-13-01T00:00", "25:00", "-5"])
def test_parse_time_refuses_with_a_readable_message(written: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read time|non-negative"):
        parse_time(written, EPOCH)


def test_seconds_and_datetimes_round_trip() -> None:
    moment = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    s = to_seconds(moment, EPOCH)
    assert s == 3 * 86400 + 15.5 * 3600
    assert to_datetime(s, EPOCH) == moment
