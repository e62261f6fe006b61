"""Durations and the plant clock: seconds from the plant's epoch inside the core."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|min|m|s)", re.IGNORECASE)


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string like '90s', '5m', '1h30m', '2d'.

    Raises:
        ValueError: the value is not a non-negative duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"got {value!r}, expected a duration (seconds or e.g. '90s', '5m', '1h30m')")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
                pos = match.end()
            if pos != len(text) or pos == 0:
                raise ValueError(
                    f"cannot read duration {value!r} (use seconds or e.g. '90s', '5m', '1h30m', '2d')"
                ) from None
    else:
        raise ValueError(f"got {type(value).__name__} {value!r}, expected a duration")
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise ValueError(f"got {value!r}, expected a finite, non-negative duration")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: '2d 3h', '1h 05m', '4m 10s', '12.5s'."""
    s = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if s < 60:
        return f"{sign}{s:.1f}s"
    if s < 3600:
        return f"{sign}{int(s // 60)}m {int(s % 60):02d}s"
    if s < 86400:
        return f"{sign}{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    return f"{sign}{int(s // 86400)}d {int(s % 86400 // 3600)}h"


def to_seconds(moment: datetime, epoch: datetime) -> float:
    """Seconds from the plant epoch to an aware datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=epoch.tzinfo)
    return (moment - epoch).total_seconds()


def to_datetime(seconds: float, epoch: datetime) -> datetime:
    """The aware datetime at `seconds` after the plant epoch."""
    return epoch + timedelta(seconds=seconds)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_time(value: object, epoch: datetime) -> float:
    """Plant seconds from an ISO datetime, a number of seconds, or a duration after the epoch.

    Raises:
        ValueError: the value is neither.
    """
    if isinstance(value, datetime):
        return to_seconds(value, epoch)
    if isinstance(value, str) and _is_number(value):
        return parse_duration(value)  # '1e-05' is seconds, not a date with a dash
    if isinstance(value, str) and ("T" in value or "-" in value[1:] or ":" in value):
        try:
            return to_seconds(datetime.fromisoformat(value.strip()), epoch)
        except ValueError as exc:
            raise ValueError(f"cannot read time {value!r}: {exc}") from None
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            if not str(exc).startswith("cannot read duration"):
                raise
            raise ValueError(
                f"cannot read time {value!r}: use an ISO datetime (2026-12-02T06:00:00+01:00) "
                "or seconds / a duration ('36h') after the plant epoch"
            ) from None
    return parse_duration(value)
