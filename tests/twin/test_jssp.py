"""The job-shop text format parser: classic instances in, plant and orders out, bad lines named."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.errors import InputError
from twin.jssp import jssp_from_text

INSTANCES = Path(__file__).parents[2] / "benchmarks" / "instances"


def test_ft06_becomes_six_stations_and_six_orders() -> None:
    plant, orders = jssp_from_text((INSTANCES / "ft06").read_text(), "ft06", "ft06")
    assert [s.id for s in plant.stations] == [f"m{i}" for i in range(6)]
    assert [o.id for o in orders] == [f"J{j}" for j in range(6)]
    job0 = plant.product_map["job0"].routing
    # first line of ft06: 2 1  0 3  1 6  3 7  5 3  4 6
    assert [(op.stations[0], op.mean_time(1)) for op in job0] == [
        ("m2", 1),
        ("m0", 3),
        ("m1", 6),
        ("m3", 7),
        ("m5", 3),
        ("m4", 6),
    ]
    assert all(o.quantity == 1 and o.release == 0 for o in orders)


@pytest.mark.parametrize("name", ["ft06", "ft10", "la01", "la02", "la03", "la04", "la05", "ta01"])
def test_every_shipped_instance_parses(name: str) -> None:
    plant, orders = jssp_from_text((INSTANCES / name).read_text(), name, name)
    n, m = {"ft06": (6, 6), "ft10": (10, 10), "ta01": (15, 15)}.get(name, (10, 5))
    assert (len(orders), len(plant.stations)) == (n, m)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "empty instance"),
        ("# only a comment\n", 1, "empty instance"),
        ("2\n0 1\n", 1, "jobs machines"),
        ("1 2\n0 1 1 x\n", 2, "got 'x', expected a whole number"),
        ("1 2\n0 1 1\n", 2, "expected 2 'machine time' pairs"),
        ("1 2\n0 1 2 5\n", 2, "job 0: got 2, expected a machine in 0..1"),
        ("2 1\n0 1\n", 2, "got 1 job lines, expected 2"),
        ("1 1\n0 1\n0 1\n", 3, "unexpected data"),
        ("1 1\n0 -1\n", 2, "got -1, expected a whole number >= 0"),
        ("1 1\n0 1000000000000000000000\n", 2, "got 1000000000000000000000, expected a time of at most"),
        ("100000 1\n", 1, "got 100000, expected a number of jobs from 1 to 10,000"),
        ("1 1\n0 0\n", 1, "expected some work"),
        (
            "4 1\n0 100000000\n0 100000000\n0 100000000\n0 100000000\n",
            1,
            "expected operation times summing to at most",
        ),
    ],
)
def test_bad_input_names_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        jssp_from_text(text, "bad.txt")
    issue = err.value.issues[0]
    assert (issue.source, issue.line) == ("bad.txt", line)
    assert fragment in issue.message


def test_every_bad_job_line_is_reported_at_once() -> None:
    with pytest.raises(InputError) as err:
        jssp_from_text("3 2\n0 1 x 2\n0 1 5 2\n0 -4 1 1\n", "bad.txt")
    assert [(i.line, i.message) for i in err.value.issues] == [
        (2, "got 'x', expected a whole number"),
        (3, "job 1: got 5, expected a machine in 0..1"),
        (4, "got -4, expected a whole number >= 0"),
    ]
