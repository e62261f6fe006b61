"""Every error class of a plant file names the file, the line and the field, and says what is wrong.

Each case edits one line of a small valid plant (BASE) and checks the issue the loader reports:
its source, its 1-based line (counted in the edited text, independently of the loader), its
field path and a phrase of its message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.errors import InputError, Issue
from twin.loader import load_plant, plant_from_text

BASE = """\
name: tiny
epoch: 2026-11-30T00:00:00+01:00
calendars:
  day:
    shifts:
      - {days: mon-fri, start: "06:00", end: "14:00"}
resources:
  - {id: ops, capacity: 2}
materials:
  - {id: bolt, stock: 10}
lines:
  - id: L
    calendar: day
    stations:
      - id: a
      - id: b
        machines: 2
products:
  - id: p
    family: F
    routing:
      - {id: o1, stations: a, time: 10, resources: {ops: 1}, consumes: {bolt: 1}}
      - {id: o2, stations: [b], time: {exponential: 5}, yield: 0.9, rework: {to: o1}}
"""


def edit(old: str, new: str) -> tuple[str, int]:
    """BASE with `old` replaced once by `new`, and the line where `new` starts."""
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new), BASE[: BASE.index(old)].count("\n") + 1


def only_issue(text: str, source: str = "tiny.yaml") -> Issue:
    with pytest.raises(InputError) as info:
        plant_from_text(text, source)
    issues = [i for i in info.value.issues if i.severity == "error"]
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def test_base_plant_is_valid() -> None:
    plant, warnings = plant_from_text(BASE, "tiny.yaml")
    assert plant.name == "tiny" and warnings == []


# (case id, old text, new text, line offset inside `new`, field path, phrase of the message)
CASES = [
    (
        "unknown station",
        "stations: [b]",
        "stations: [bb]",
        0,
        "products[0].routing[1].stations[0]",
        "unknown station 'bb' (known: a, b)",
    ),
    (
        "unknown resource",
        "resources: {ops: 1}",
        "resources: {opz: 1}",
        0,
        "products[0].routing[0].resources.opz",
        "unknown resource 'opz' (known: ops)",
    ),
    (
        "resource need above capacity",
        "resources: {ops: 1}",
        "resources: {ops: 3}",
        0,
        "products[0].routing[0].resources.ops",
        "got 3 of 'ops', expected at most its capacity 2",
    ),
    (
        "unknown material",
        "consumes: {bolt: 1}",
        "consumes: {blot: 1}",
        0,
        "products[0].routing[0].consumes.blot",
        "unknown material 'blot' (known: bolt)",
    ),
    (
        "unknown calendar of a line",
        "    calendar: day",
        "    calendar: night",
        0,
        "lines[0].calendar",
        "unknown calendar 'night' (known: day)",
    ),
    (
        "unknown calendar of a station",
        "      - id: a\n",
        "      - id: a\n        calendar: nite\n",
        1,
        "lines[0].stations[0].calendar",
        "unknown calendar 'nite'",
    ),
    (
        "unknown product in the order stream",
        "products:\n",
        "order_stream: {interarrival: 60, mix: {q: 1}}\nproducts:\n",
        0,
        "order_stream.mix.q",
        "unknown product 'q' (known: p)",
    ),
    (
        "rework that loops forward",
        "time: 10, resources",
        "time: 10, rework: {to: o2}, resources",
        0,
        "products[0].routing[0].rework.to",
        "got 'o2', expected this or an earlier operation",
    ),
    (
        "rework to an unknown operation",
        "rework: {to: o1}",
        "rework: {to: o9}",
        0,
        "products[0].routing[1].rework.to",
        "unknown operation 'o9'",
    ),
    (
        "operation with no eligible station",
        "stations: [b]",
        "stations: []",
        0,
        "products[0].routing[1].stations",
        "at least 1 item",
    ),
    ("zero time", "time: 10,", "time: 0,", 0, "products[0].routing[0].time", "got 0, expected a positive"),
    ("negative time", "time: 10,", "time: -10,", 0, "products[0].routing[0].time", "non-negative"),
    ("negative duration string", "time: 10,", "time: -5m,", 0, "products[0].routing[0].time", "-5m"),
    (
        "zero exponential mean",
        "{exponential: 5}",
        "{exponential: 0}",
        0,
        "products[0].routing[1].time.exponential",
        "got 0, expected a number > 0",
    ),
    (
        "negative batch time",
        "time: 10,",
        "time: 10, batch_time: -3,",
        0,
        "products[0].routing[0].batch_time",
        "non-negative",
    ),
    (
        "calendar with no working days",
        "days: mon-fri",
        "days: []",
        -2,
        "calendars.day",
        "no working time",
    ),
    (
        "misspelt key of a product",
        "    family: F",
        "    famliy: F",
        0,
        "products[0].famliy",
        "unknown field (check the spelling)",
    ),
    (
        "misspelt key of an operation",
        "yield: 0.9",
        "yeild: 0.9",
        0,
        "products[0].routing[1].yeild",
        "unknown field",
    ),
    (
        "misspelt top-level key",
        "name: tiny\n",
        "name: tiny\ndescripton: a plant\n",
        1,
        "descripton",
        "unknown field",
    ),
    (
        "key given twice",
        "    family: F\n",
        "    family: F\n    family: G\n",
        1,
        "products[0].family",
        "key appears twice",
    ),
    (
        "wrong type: machines",
        "machines: 2",
        "machines: two",
        0,
        "lines[0].stations[1].machines",
        "got 'two', expected a whole number",
    ),
    (
        "wrong type: capacity",
        "capacity: 2",
        "capacity: [2]",
        0,
        "resources[0].capacity",
        "got [2], expected a whole number",
    ),
    (
        "zero machines",
        "machines: 2",
        "machines: 0",
        0,
        "lines[0].stations[1].machines",
        "got 0, expected a whole number from 1 to 1000",
    ),
    (
        "yield above 1",
        "yield: 0.9",
        "yield: 1.5",
        0,
        "products[0].routing[1].yield",
        "got 1.5, expected a number from 0.01 to 1",
    ),
    (
        "unknown distribution",
        "{exponential: 5}",
        "{gamma: 5}",
        0,
        "products[0].routing[1].time",
        "unknown distribution 'gamma'",
    ),
    (
        "triangular out of order",
        "{exponential: 5}",
        "{triangular: [5, 3, 1]}",
        0,
        "products[0].routing[1].time.triangular",
        "low <= mode <= high",
    ),
    (
        "triangular with two numbers",
        "{exponential: 5}",
        "{triangular: [5, 3]}",
        0,
        "products[0].routing[1].time",
        "triangular needs [low, mode, high]",
    ),
    (
        "normal with negative sd",
        "{exponential: 5}",
        "{normal: {mean: 5, sd: -1}}",
        0,
        "products[0].routing[1].time.normal.sd",
        "non-negative",
    ),
    (
        "normal without mean",
        "{exponential: 5}",
        "{normal: {sd: 1}}",
        0,
        "products[0].routing[1].time.normal.mean",
        "required field is missing",
    ),
    (
        "lognormal with zero cv",
        "{exponential: 5}",
        "{lognormal: {mean: 5, cv: 0}}",
        0,
        "products[0].routing[1].time.lognormal.cv",
        "got 0, expected a number > 0",
    ),
    (
        "empirical with a word",
        "{exponential: 5}",
        "{empirical: [1, x]}",
        0,
        "products[0].routing[1].time.empirical",
        "cannot read duration 'x'",
    ),
    (
        "distribution with two kinds",
        "{exponential: 5}",
        "{exponential: 5, normal: 3}",
        0,
        "products[0].routing[1].time",
        "one kind",
    ),
    ("distribution as a list", "{exponential: 5}", "[1, 2]", 0, "products[0].routing[1].time", "got [1, 2]"),
    (
        "station defined twice",
        "      - id: b\n",
        "      - id: a\n      - id: b\n",
        0,
        "lines[0].stations[1].id",
        "station id 'a' is defined twice",
    ),
    (
        "operation id repeats",
        "{id: o2,",
        "{id: o1,",
        0,
        "products[0].routing[1].id",
        "operation id 'o1' repeats",
    ),
    (
        "epoch without time zone",
        "epoch: 2026-11-30T00:00:00+01:00",
        "epoch: 2026-11-30T00:00:00",
        0,
        "epoch",
        "expected a time zone",
    ),
    (
        "clock time out of range",
        'start: "06:00"',
        'start: "25:00"',
        0,
        "calendars.day.shifts[0].start",
        "expected a clock time",
    ),
    (
        "unknown day range",
        "days: mon-fri",
        "days: monday-frday",
        0,
        "calendars.day.shifts[0].days",
        "unknown day range",
    ),
    (
        "days as a number",
        "days: mon-fri",
        "days: 5",
        0,
        "calendars.day.shifts[0].days",
        "expected a day",
    ),
    (
        "maintenance start is not a time",
        "      - id: a\n",
        "      - id: a\n        maintenance: [{start: tomorrow, duration: 1h}]\n",
        1,
        "lines[0].stations[0].maintenance[0].start",
        "cannot read time 'tomorrow'",
    ),
    (
        "maintenance repeating every 0",
        "      - id: a\n",
        "      - id: a\n        maintenance: [{start: 0, duration: 1h, every: 0}]\n",
        1,
        "lines[0].stations[0].maintenance[0].every",
        "got 0, expected a period 'every' of at least 15 minutes",
    ),
    (
        "delivery time is not a time",
        "stock: 10}",
        "stock: 10, deliveries: [{at: soon, quantity: 5}]}",
        0,
        "materials[0].deliveries[0].at",
        "cannot read time 'soon'",
    ),
    (
        "failures with zero MTBF",
        "      - id: a\n",
        "      - id: a\n        failures: {mtbf: 0, mttr: 5}\n",
        1,
        "lines[0].stations[0].failures.mtbf",
        "got 0, expected a mean time between failures of at least 60 s",
    ),
    (
        "tag that is not a node id",
        "      - id: a\n",
        "      - id: a\n        tags: {state: foo}\n",
        1,
        "lines[0].stations[0].tags",
        "is not a node id",
    ),
    (
        "scrap policy misspelt",
        "lines:\n",
        "settings: {scrap_policy: keep}\nlines:\n",
        0,
        "settings.scrap_policy",
        "got 'keep', expected one of 'remake' or 'short'",
    ),
    (
        "id with a space",
        "  - id: L\n",
        "  - id: 'L L'\n",
        0,
        "lines[0].id",
        "got 'L L', expected an id of letters",
    ),
    (
        "a required field missing",
        "      - {id: o1, stations: a, time: 10,",
        "      - {id: o1, stations: a,",
        0,
        "products[0].routing[0].time",
        "required field is missing",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "offset", "path", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_names_file_line_and_field(old: str, new: str, offset: int, path: str, phrase: str) -> None:
    text, line = edit(old, new)
    issue = only_issue(text)
    assert issue.source == "tiny.yaml"
    assert issue.line == line + offset, str(issue)
    assert issue.path == path, str(issue)
    assert phrase in issue.message, str(issue)
    assert str(issue) == f"tiny.yaml:{line + offset}: {path}: {issue.message}"


def test_station_used_by_no_routing_is_a_warning_with_its_line() -> None:
    text, line = edit("      - id: b\n", "      - id: idle\n      - id: b\n")
    plant, warnings = plant_from_text(text, "tiny.yaml")
    assert [s.id for s in plant.stations] == ["a", "idle", "b"]
    assert len(warnings) == 1
    w = warnings[0]
    assert (w.severity, w.source, w.line, w.path) == ("warning", "tiny.yaml", line, "lines[0].stations[1].id")
    assert "station 'idle' is used by no routing" in w.message


def test_setup_family_nobody_has_is_a_warning() -> None:
    text, line = edit("      - id: a\n", "      - id: a\n        setups: {matrix: {F: {G: 5m}}}\n")
    _, warnings = plant_from_text(text, "tiny.yaml")
    assert [(w.line, w.path) for w in warnings] == [(line + 1, "lines[0].stations[0].setups.matrix.F")]
    assert "no product has family 'G'" in warnings[0].message


def test_holiday_over_the_whole_probe_leaves_no_working_time() -> None:
    text, _ = edit(
        '      - {days: mon-fri, start: "06:00", end: "14:00"}\n',
        '      - {days: mon-fri, start: "06:00", end: "14:00"}\n'
        "    exceptions:\n"
        "      - {start: 2026-11-01T00:00:00+01:00, end: 2027-01-01T00:00:00+01:00}\n",
    )
    issue = only_issue(text)
    assert (issue.line, issue.path) == (4, "calendars.day")
    assert "no working time" in issue.message


def test_invalid_item_does_not_add_a_list_too_short_error() -> None:
    """A list whose only item is bad is reported once, at the item (not also 'too short')."""
    text, _ = edit("machines: 2", "machines: two")
    with pytest.raises(InputError) as info:
        plant_from_text(text, "tiny.yaml")
    assert [i.path for i in info.value.issues] == ["lines[0].stations[1].machines"]


def test_every_error_is_reported_at_once() -> None:
    text, _ = edit("stations: [b]", "stations: [bb]")
    text = text.replace("resources: {ops: 1}", "resources: {opz: 1}")
    with pytest.raises(InputError) as info:
        plant_from_text(text, "tiny.yaml")
    assert {i.path for i in info.value.issues} == {
        "products[0].routing[1].stations[0]",
        "products[0].routing[0].resources.opz",
    }


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        ("name: x\nlines: [\n", 3, "not valid YAML"),
        ("name: x\n  bad: indent\n", 2, "not valid YAML"),
        ("name: x\nepoch: {a: 1\nlines: 2\n", 3, "not valid YAML"),
        ("name: x\nb: *nowhere\n", 2, "undefined alias"),
        ("name: x\nlines: !!python/object:os.system ls\n", 2, "not valid YAML"),
        ("name: x\n\x07\n", 2, "#x0007"),
        ("- just\n- a list\n", 1, "must be a YAML mapping"),
        ("", 1, "must be a YAML mapping"),
    ],
)
def test_yaml_syntax_errors_name_the_line(text: str, line: int, phrase: str) -> None:
    with pytest.raises(InputError) as info:
        plant_from_text(text, "bad.yaml")
    issue = info.value.issues[0]
    assert (issue.source, issue.line) == ("bad.yaml", line), str(issue)
    assert phrase in issue.message


def test_recursive_yaml_anchor_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        plant_from_text(
            "name: x\nepoch: 2026-11-30T00:00:00Z\nlines: &l [*l]\nproducts: &p {a: *p}\n", "r.yaml"
        )
    assert {i.path.split("[")[0].split(".")[0] for i in info.value.issues} >= {"lines", "products"}


def test_load_plant_names_the_path(tmp_path: Path) -> None:
    text, line = edit("machines: 2", "machines: -1")
    path = tmp_path / "plant.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_plant(path)
    assert str(info.value).startswith(f"{path}:{line}: lines[0].stations[1].machines: ")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_plant(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="cannot read file"):
        load_plant(tmp_path)  # a directory
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="cannot read file"):
        load_plant(latin)


def test_unquoted_yaml_timestamp_is_accepted_for_times() -> None:
    text, _ = edit(
        "      - id: a\n",
        "      - id: a\n        maintenance: [{start: 2026-12-02T06:00:00+01:00, duration: 2h}]\n",
    )
    plant, _ = plant_from_text(text, "tiny.yaml")
    assert plant.station_map["a"].maintenance[0].start == "2026-12-02T06:00:00+01:00"


def test_escaped_half_character_is_an_input_error() -> None:
    """YAML turns '\\ud800' into a lone surrogate that no validator or terminal can handle."""
    text, line = edit("    family: F", '    family: "F\\ud800"')
    issue = only_issue(text)
    assert issue.line == line
    # libyaml refuses the escape itself; the pure-Python parser lets it through to our check.
    assert "invalid Unicode character escape" in issue.message or (
        issue.path == "products[0].family" and "half a character" in issue.message
    )
