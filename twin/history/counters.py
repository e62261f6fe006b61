"""What a new sync session resumes from: the last good value stored for each station tag (counters,
state, current order and operation) and the server start time last seen.

Read once at the start of a session, so that parts made while sync was down are counted at
reconnect (the first value read minus the last one stored) and nothing is counted twice.
"Last" is the order of insertion (DuckDB's `rowid`): sync appends values in the order it
received them, and plant time can go backwards across a server restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from twin.history.store import HistoryStore
from twin.tagnames import COUNTER_TAGS, SERVER_START_TAG, TEXT_TAGS

RESUMED_TAGS = (*COUNTER_TAGS, *TEXT_TAGS)
_USED = ("good", "counter_reset")


@dataclass(frozen=True)
class LastValue:
    """A tag's last good stored value: plant time, number (counters) and text (text tags)."""

    time: float
    value: float | None
    text: str | None


@dataclass(frozen=True)
class SessionResume:
    """Where the previous sync sessions on this history left off."""

    values: dict[tuple[str, str], LastValue] = field(default_factory=dict)
    server_start: datetime | None = None

    @property
    def counters(self) -> dict[tuple[str, str], int]:
        """The last counter value per (station, 'good_count'|'reject_count')."""
        return {
            key: int(v.value)
            for key, v in self.values.items()
            if key[1] in COUNTER_TAGS and v.value is not None and v.value == v.value
        }


def session_resume(store: HistoryStore) -> SessionResume:
    """The last good value of every counter and text tag per station, and the last server start time
    recorded (None on an empty history)."""
    tags = ", ".join(f"'{t}'" for t in RESUMED_TAGS)
    used = ", ".join(f"'{s}'" for s in _USED)
    rows = store.sql(
        f"""
        SELECT station, tag, time, value, value_text AS text
        FROM actual_values
        WHERE station IS NOT NULL AND tag IN ({tags}) AND status IN ({used})
        QUALIFY row_number() OVER (PARTITION BY station, tag ORDER BY rowid DESC) = 1
        """
    )
    values = {
        (str(r.station), str(r.tag)): LastValue(
            float(r.time),
            float(r.value) if r.value is not None and r.value == r.value else None,
            r.text if isinstance(r.text, str) else None,
        )
        for r in rows.itertuples(index=False)
    }
    start = store.sql(
        "SELECT source_time FROM actual_values WHERE station IS NULL AND tag = ? AND source_time IS NOT NULL "
        "ORDER BY rowid DESC LIMIT 1",
        [SERVER_START_TAG],
    )
    server_start = start.source_time.iloc[0].to_pydatetime() if len(start) else None
    return SessionResume(values, server_start)
