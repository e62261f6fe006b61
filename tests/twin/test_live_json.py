"""The live-state snapshot JSON: a full example parses to the LiveState it says; mistakes name the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from twin.errors import InputError
from twin.live_json import live_from_json

EPOCH = datetime(2026, 11, 30, tzinfo=UTC)


def test_full_snapshot() -> None:
    text = json.dumps(
        {
            "time": "2026-11-30T06:00:00+00:00",
            "completed": [["A", 0], ["A", 1]],
            "in_progress": [{"order": "B", "op": 2, "station": "drill", "machine": 1, "started": 21000}],
            "stock": {"housing": 640},
            "down": {"cnc1/0": "2026-11-30T05:55:00+00:00"},
        }
    )
    live = live_from_json(text, EPOCH)
    assert live.time == 21600
    assert live.completed == frozenset({("A", 0), ("A", 1)})
    (p,) = live.in_progress
    assert (p.order_id, p.op_index, p.station, p.machine, p.started, p.done_units) == (
        "B",
        2,
        "drill",
        1,
        21000,
        0,
    )
    assert live.stock == {"housing": 640.0}
    assert live.down == {"cnc1/0": 21300.0}


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("{}", "time"),
        ('{"time": "yesterday"}', "time"),
        ('{"time": 0, "completed": [["A"]]}', "completed[0]"),
        ('{"time": 0, "in_progress": [{"order": "A", "op": 0}]}', "in_progress[0]"),
        ('{"time": 0, "stock": {"x": "many"}}', "stock"),
        ('{"time": 0, "when": 1}', "when"),
    ],
)
def test_mistakes_name_the_field(text: str, path: str) -> None:
    with pytest.raises(InputError) as err:
        live_from_json(text, EPOCH, "live.json")
    assert err.value.issues[0].path == path
    assert err.value.issues[0].source == "live.json"


def test_bad_json_names_the_line() -> None:
    with pytest.raises(InputError) as err:
        live_from_json('{\n"time": 0,\n}', EPOCH, "live.json")
    assert err.value.issues[0].line == 3
