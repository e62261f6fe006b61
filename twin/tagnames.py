"""The names tags carry in the live state and the history: one owner, so that what sync stores is
what the dashboard and the KPI queries ask for.

A station's scalar tags are stored under their tag-map key ('good_count', 'state', ...); a
process value under 'pv:<name>' (the prefix keeps a process value called 'state' apart from the
state tag); the server's start time, read at every (re)connect, under `SERVER_START_TAG` with
no station.
"""

from __future__ import annotations

SCALAR_TAGS = ("state", "good_count", "reject_count", "current_order", "current_operation", "cycle_time")
COUNTER_TAGS = ("good_count", "reject_count")
TEXT_TAGS = ("state", "current_order", "current_operation")
PROCESS_VALUE_PREFIX = "pv:"
SERVER_START_TAG = "server_start_time"


def process_value_tag(name: str) -> str:
    """The history's tag of a process value declared as `name` in the plant ('pv:spindle_temp')."""
    return f"{PROCESS_VALUE_PREFIX}{name}"


def process_value_name(tag: str) -> str | None:
    """The process value a stored tag holds ('pv:spindle_temp' -> 'spindle_temp'), else None."""
    return tag[len(PROCESS_VALUE_PREFIX) :] if tag.startswith(PROCESS_VALUE_PREFIX) else None
