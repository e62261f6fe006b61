"""The Schedule: JSON and CSV round trips, content_hash stability, and its invariants."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.errors import InputError
from twin.loader import load_schedule
from twin.schedule import Schedule, ScheduledOperation

OPS = (
    ScheduledOperation("J1", 0, "cut", "saw", 0, 0.0, 100.0, setup=10.0, quantity=5),
    ScheduledOperation("J1", 1, "mill", "cnc", 1, 100.0, 250.5, quantity=5),
    ScheduledOperation("J2", 0, "cut", "saw", 1, 0.0, 80.0, setup=0.0, quantity=3),
    ScheduledOperation("J2", 1, "mill", "cnc", 0, 120.0, 1 / 3 + 200.0, quantity=3),
)


def make(ops: tuple[ScheduledOperation, ...] = OPS, **kw: object) -> Schedule:
    return Schedule(ops, plant_hash="abc", created_by="test", **kw)  # type: ignore[arg-type]


def from_csv(text: str) -> list[ScheduledOperation]:
    """Read `to_csv` back with the csv module and the dataclass's field types."""
    types = {f.name: f.type for f in fields(ScheduledOperation)}
    conv = {"str": str, "int": int, "float": float, "int | None": lambda v: int(v) if v else None}
    return [
        ScheduledOperation(**{k: conv[str(types[k])](v) for k, v in row.items()})
        for row in csv.DictReader(io.StringIO(text))
    ]


def test_operations_are_kept_in_start_order_and_grouped() -> None:
    s = make(tuple(reversed(OPS)))
    assert [(o.start, o.station, o.machine) for o in s.operations] == sorted(
        (o.start, o.station, o.machine) for o in OPS
    )
    assert s.makespan == 250.5
    assert s.completion() == {"J1": 250.5, "J2": 1 / 3 + 200.0}
    assert [o.op_index for o in s.by_order()["J1"]] == [0, 1]
    assert [o.order_id for o in s.by_machine()["cnc/0"]] == ["J2"]
    assert OPS[0].machine_id == "saw/0" and OPS[0].key == ("J1", 0)


def test_json_round_trip_through_a_file(tmp_path: Path) -> None:
    s = make(meta={"solver": "cp-sat", "gap": 0.0})
    path = tmp_path / "plan.json"
    path.write_text(s.to_json(), encoding="utf-8")
    back = load_schedule(path)
    assert back == s and back.meta == s.meta
    assert back.content_hash() == s.content_hash()
    assert Schedule.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_csv_round_trip() -> None:
    s = make()
    text = s.to_csv()
    assert text.splitlines()[0] == ",".join(f.name for f in fields(ScheduledOperation))
    assert tuple(from_csv(text)) == s.operations


def test_transfer_batch_round_trips_and_only_a_set_one_changes_the_hash() -> None:
    s = make()
    assert all("transfer_batch" not in o for o in s.to_dict()["operations"])
    split = make((replace(OPS[0], transfer_batch=2), *OPS[1:]))
    assert split.content_hash() != s.content_hash()
    assert Schedule.from_dict(json.loads(split.to_json())) == split
    assert tuple(from_csv(split.to_csv())) == split.operations
    with pytest.raises(ValueError, match="transfer_batch"):
        replace(OPS[0], transfer_batch=0)


def test_content_hash_is_stable_and_sensitive() -> None:
    s = make()
    assert s.content_hash() == make(tuple(reversed(OPS))).content_hash()  # input order
    assert s.content_hash() == make(meta={"note": "x"}).content_hash()  # meta is not content
    assert s.content_hash() == make().content_hash()  # a fresh object
    moved = (replace(OPS[0], machine=1), *OPS[1:])
    assert make(moved).content_hash() != s.content_hash()
    later = (replace(OPS[1], end=251.0), OPS[0], *OPS[2:])
    assert make(later).content_hash() != s.content_hash()
    assert Schedule(OPS, plant_hash="other").content_hash() != s.content_hash()
    assert len(s.content_hash()) == 64


def test_bad_times_are_refused() -> None:
    with pytest.raises(ValueError, match="bad times"):
        make((ScheduledOperation("J", 0, "op", "s", 0, 10.0, 5.0),))
    with pytest.raises(ValueError, match="bad times"):
        make((ScheduledOperation("J", 0, "op", "s", 0, 0.0, 5.0, setup=6.0),))
    with pytest.raises(ValueError, match="bad times"):
        make((ScheduledOperation("J", 0, "op", "s", 0, 0.0, 5.0, setup=-1.0),))


def test_empty_schedule() -> None:
    s = Schedule(())
    assert s.makespan == 0.0 and s.completion() == {} and Schedule.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("{not json", "not valid JSON"),
        ("{}", "not a plantwin schedule"),
        ('{"operations": [{"order_id": "J"}]}', "not a plantwin schedule"),
        ('{"operations": [1]}', "not a plantwin schedule"),
    ],
)
def test_load_schedule_errors_name_the_file(tmp_path: Path, text: str, phrase: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_schedule(path)
    assert str(info.value).startswith(str(path)) and phrase in str(info.value)


TIMES = st.floats(0, 1e7, allow_nan=False)


@st.composite
def scheduled_ops(draw: st.DrawFn) -> ScheduledOperation:
    start, setup, work = draw(TIMES), draw(TIMES), draw(TIMES)
    return ScheduledOperation(
        order_id=draw(st.text(min_size=1, max_size=8)),
        op_index=draw(st.integers(0, 20)),
        operation=draw(st.text(min_size=1, max_size=8)),
        station=draw(st.text(min_size=1, max_size=8)),
        machine=draw(st.integers(0, 5)),
        start=start,
        end=start + setup + work,  # the way a planner builds it
        setup=setup,
        quantity=draw(st.integers(1, 1000)),
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(scheduled_ops(), max_size=8), st.text(max_size=10))
def test_round_trips_keep_every_field(ops: list[ScheduledOperation], plant_hash: str) -> None:
    s = Schedule(tuple(ops), plant_hash=plant_hash)
    back = Schedule.from_dict(json.loads(s.to_json()))
    assert back == s and back.content_hash() == s.content_hash()
    assert tuple(from_csv(s.to_csv())) == s.operations
