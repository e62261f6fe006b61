"""Order books (CSV and JSON): valid files load; every mistake names the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.errors import InputError, Issue
from twin.loader import load_orders, orders_from_csv, orders_from_json
from twin.orders import Order
from twin.plant import Plant

HEADER = "id,product,quantity,release,due,weight\n"


@pytest.fixture(scope="module")
def shop(sample_plant) -> Plant:  # type: ignore[no-untyped-def]
    """jobshop3x3: products job0..job2, epoch 2026-11-30T00:00:00+00:00."""
    return sample_plant("jobshop3x3")


def csv_issues(text: str, plant: Plant) -> list[Issue]:
    with pytest.raises(InputError) as info:
        orders_from_csv(text, plant, "o.csv")
    return info.value.issues


def json_issues(text: str, plant: Plant) -> list[Issue]:
    with pytest.raises(InputError) as info:
        orders_from_json(text, plant, "o.json")
    return info.value.issues


def test_csv_reads_every_field(shop: Plant) -> None:
    text = HEADER + "A,job0,3,2026-11-30T06:00:00+00:00,2026-11-30T08:30:00+01:00,2.5\nB,job1,1,1h,36h,\n"
    a, b = orders_from_csv(text, shop, "o.csv")
    assert a == Order("A", "job0", 3, 6 * 3600.0, 7.5 * 3600.0, 2.5)
    assert b == Order("B", "job1", 1, 3600.0, 36 * 3600.0, 1.0)


def test_csv_optional_columns_priority_bom_and_blank_lines(shop: Plant) -> None:
    text = "\ufeffid,product,quantity,due,priority\n\nA,job2,2,90,3\n\n"
    assert orders_from_csv(text, shop, "o.csv") == [Order("A", "job2", 2, 0.0, 90.0, 3.0)]


def test_naive_datetimes_are_in_the_plant_time_zone(sample_plant) -> None:  # type: ignore[no-untyped-def]
    demo = sample_plant("demo")  # epoch 2026-11-30T00:00:00+01:00
    (order,) = orders_from_csv(HEADER + "A,VALVE,1,2026-11-30T06:00,2026-12-01T06:00,1\n", demo, "o.csv")
    assert (order.release, order.due) == (6 * 3600.0, 30 * 3600.0)


# (case id, data rows after the header, line, field, phrase)
CSV_CASES = [
    ("unknown product", "A,job0,1,0,11,1\nB,job9,1,0,11,1\n", 3, "product", "unknown product 'job9'"),
    ("empty product", "A,,1,0,11,1\n", 2, "product", "unknown product ''"),
    ("zero quantity", "A,job0,0,0,11,1\n", 2, "quantity", "got '0', expected a whole number from 1"),
    (
        "10^12 units",
        "A,job0,1000000000000,0,11,1\n",
        2,
        "quantity",
        "got '1000000000000', expected a whole number from 1 to 1,000,000",
    ),
    (
        "release in the year 9999",
        "A,job0,1,9999-12-31T00:00:00+00:00,11,1\n",
        2,
        "release",
        "got '9999-12-31T00:00:00+00:00', expected a time within 10 years",
    ),
    ("due at 1e308 s", "A,job0,1,0,1e308,1\n", 2, "due", "got '1e308', expected a time within 10 years"),
    ("huge weight", "A,job0,1,0,11,1e9\n", 2, "weight", "got '1e9', expected a number above 0 to 1000"),
    ("fractional quantity", "A,job0,1.5,0,11,1\n", 2, "quantity", "got '1.5'"),
    ("word quantity", "A,job0,ten,0,11,1\n", 2, "quantity", "got 'ten'"),
    ("empty quantity", "A,job0,,0,11,1\n", 2, "quantity", "got ''"),
    ("infinite quantity", "A,job0,inf,0,11,1\n", 2, "quantity", "got 'inf'"),
    ("due before release", "A,job0,1,20,11,1\n", 2, "due", "before the release"),
    ("due missing", "A,job0,1,0,,1\n", 2, "due", "due time is missing"),
    ("duplicate id", "A,job0,1,0,11,1\nB,job0,1,0,11,1\nA,job1,1,0,11,1\n", 4, "id", "'A' appears twice"),
    ("missing id", ",job0,1,0,11,1\n", 2, "id", "order id is missing"),
    ("word time", "A,job0,1,yesterday,11,1\n", 2, "release", "cannot read time 'yesterday'"),
    ("impossible date", "A,job0,1,0,2026-13-01T00:00,1\n", 2, "due", "cannot read time"),
    ("negative time", "A,job0,1,-5,11,1\n", 2, "release", "non-negative"),
    ("zero weight", "A,job0,1,0,11,0\n", 2, "weight", "got '0', expected a number above 0"),
    ("word weight", "A,job0,1,0,11,high\n", 2, "weight", "got 'high'"),
    ("too many values", "A,job0,1,0,11,1\nB,job0,1,0,11,1,9\n", 3, "", "more values than header columns"),
]


@pytest.mark.parametrize(
    ("rows", "line", "field", "phrase"), [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES]
)
def test_csv_error_names_line_and_field(shop: Plant, rows: str, line: int, field: str, phrase: str) -> None:
    (issue,) = csv_issues(HEADER + rows, shop)
    assert (issue.source, issue.line, issue.path) == ("o.csv", line, field), str(issue)
    assert phrase in issue.message
    assert str(issue).startswith(f"o.csv:{line}: {field + ': ' if field else ''}")


def test_csv_line_numbers_count_quoted_newlines(shop: Plant) -> None:
    (issue,) = csv_issues(HEADER + '"A\nB",job0,1,0,11,1\nC,job9,1,0,11,1\n', shop)
    assert (issue.line, issue.path) == (4, "product")


def test_csv_every_bad_row_is_reported(shop: Plant) -> None:
    issues = csv_issues(HEADER + "A,job9,1,0,11,1\nB,job0,0,0,11,1\nC,job0,1,5,2,1\n", shop)
    assert [(i.line, i.path) for i in issues] == [(2, "product"), (3, "quantity"), (4, "due")]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("id,product,due\nA,job0,11\n", "header lacks column(s) quantity"),
        ("product,quantity\njob0,1\n", "header lacks column(s) id, due"),
        ("id,id,product,quantity,due\nA,B,job0,1,11\n", "header repeats column(s) id"),
        ("", "empty order file"),
    ],
)
def test_csv_header_errors_name_line_1(shop: Plant, text: str, phrase: str) -> None:
    (issue,) = csv_issues(text, shop)
    assert (issue.source, issue.line) == ("o.csv", 1)
    assert phrase in issue.message


def test_csv_unknown_column_is_named(shop: Plant) -> None:
    (issue,) = csv_issues("id,product,quantity,due,colour\nA,job0,1,11,red\n", shop)
    assert (issue.line, issue.path) == (2, "colour")
    assert "unknown column/field 'colour'" in issue.message


def good_json(**override: object) -> dict[str, object]:
    return {"id": "A", "product": "job0", "quantity": 1, "release": 0, "due": 11, **override}


def test_json_list_and_wrapped_forms(shop: Plant) -> None:
    expect = [Order("A", "job0", 1, 0.0, 11.0, 1.0)]
    assert orders_from_json(json.dumps([good_json()]), shop) == expect
    assert orders_from_json(json.dumps({"orders": [good_json()]}, indent="\t"), shop) == expect
    assert orders_from_json(json.dumps([good_json(id=7, quantity=2.0)]), shop)[0] == Order(
        "7", "job0", 2, 0.0, 11.0, 1.0
    )


def test_json_text_is_read_as_json(shop: Plant) -> None:
    """Escapes YAML would read differently (a surrogate pair) keep their JSON meaning."""
    (order,) = orders_from_json(
        '[{"id": "A\\ud83d\\ude00", "product": "job0", "quantity": 1, "due": 11}]', shop
    )
    assert order.id == "A\U0001f600"


JSON_CASES = [
    ("unknown product", {"product": "jobX"}, "product", "unknown product 'jobX'"),
    ("zero quantity", {"quantity": 0}, "quantity", "got 0, expected a whole number from 1"),
    ("boolean quantity", {"quantity": True}, "quantity", "got true, expected a whole number from 1"),
    ("list quantity", {"quantity": [1]}, "quantity", "got [1], expected a whole number"),
    ("due before release", {"release": 20}, "due", "before the release"),
    ("due missing", {"due": None}, "due", "due time is missing"),
    ("word time", {"release": "soon"}, "release", "cannot read time 'soon'"),
    ("object time", {"due": {"a": 1}}, "due", "cannot read time"),
    ("negative weight", {"weight": -1}, "weight", "got -1, expected a number above 0"),
    ("unknown field", {"colour": "red"}, "colour", "unknown column/field 'colour'"),
]


@pytest.mark.parametrize(
    ("override", "field", "phrase"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES]
)
def test_json_error_names_line_and_field(
    shop: Plant, override: dict[str, object], field: str, phrase: str
) -> None:
    orders = [good_json(id="A"), good_json(id="B", **override)]
    text = json.dumps({"orders": orders}, indent=2)
    # The line of the field in the second order, found by reading the text.
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if '"B"' in ln)
    expect = next(i for i in range(start, len(lines)) if f'"{field}":' in lines[i]) + 1
    (issue,) = json_issues(text, shop)
    assert (issue.source, issue.path) == ("o.json", f"orders[1].{field}"), str(issue)
    assert phrase in issue.message
    assert issue.line == expect, (str(issue), text)


def test_json_duplicate_id(shop: Plant) -> None:
    text = "[\n" + ",\n".join(json.dumps(good_json(id=i)) for i in ("A", "B", "A")) + "\n]"
    (issue,) = json_issues(text, shop)
    assert (issue.line, issue.path) == (4, "[2].id")
    assert "'A' appears twice" in issue.message


@pytest.mark.parametrize(
    ("text", "line", "path", "phrase"),
    [
        ('[{"id": "A",\n "quantity": 1 "due": 11}]', 2, "", "not valid JSON"),
        ("", 1, "", "not valid JSON"),
        ('{"id": "A"}', 1, "", "expected a list of orders"),
        ('{"orders": null}', 1, "", "expected a list of orders"),
        ("[1,\n 2]", 2, "[1]", "an order must be an object"),
        ('[{"id": "A", "id": "B", "product": "job0", "quantity": 1, "due": 11}]', 1, "[0].id", "twice"),
    ],
)
def test_json_structure_errors(shop: Plant, text: str, line: int, path: str, phrase: str) -> None:
    issue = json_issues(text, shop)[-1]
    assert (issue.source, issue.line, issue.path) == ("o.json", line, path), str(issue)
    assert phrase in issue.message


def test_load_orders_by_suffix_and_names_the_file(shop: Plant, tmp_path: Path) -> None:
    csv_path = tmp_path / "book.csv"
    csv_path.write_text(HEADER + "A,job0,1,0,11,1\n", encoding="utf-8")
    json_path = tmp_path / "book.JSON"
    json_path.write_text(json.dumps([good_json()]), encoding="utf-8")
    assert load_orders(csv_path, shop) == load_orders(json_path, shop)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "A,job0,1,0,11,1\nB,nope,1,0,11,1\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_orders(bad, shop)
    assert str(info.value).startswith(f"{bad}:3: product: unknown product 'nope'")
    with pytest.raises(InputError, match="file not found"):
        load_orders(tmp_path / "missing.csv", shop)


def test_times_decades_away_are_refused_as_typos(shop: Plant) -> None:
    (issue,) = csv_issues(HEADER + "A,job0,1,0,20261-12-01T00:00,1\n", shop)  # unreadable year
    assert issue.path == "due"
    (issue,) = csv_issues(HEADER + "A,job0,1,0,2206-12-01T00:00:00+00:00,1\n", shop)
    assert (issue.line, issue.path) == (
        2,
        "due",
    ) and "expected a time within 10 years of the plant epoch" in issue.message
    issues = csv_issues(HEADER + "A,job0,1,1e12,1e12,1\n", shop)
    assert [i.path for i in issues] == ["release", "due"]
    assert all("expected a time within 10 years of the plant epoch" in i.message for i in issues)
    (order,) = orders_from_csv(HEADER + "A,job0,1,0,2029-12-01T00:00:00+00:00,1\n", shop, "o.csv")
    assert order.due > 3 * 365 * 86400


def test_json_that_yaml_cannot_follow_still_loads(shop: Plant) -> None:
    """A key over 1024 characters is valid JSON but beyond YAML's simple keys: line 1 is named."""
    (issue,) = json_issues(json.dumps([good_json(**{"x" * 1100: 1})]), shop)
    assert issue.line == 1 and "unknown column/field" in issue.message


def test_json_lone_surrogate_is_an_input_error(shop: Plant) -> None:
    (issue,) = json_issues('[{"id": "A\\ud83d", "product": "job0", "quantity": 1, "due": 11}]', shop)
    assert issue.line == 1 and "half a character" in issue.message


def test_malformed_csv_is_an_input_error_with_its_line(demo_plant) -> None:
    """A stray carriage return (found by the fuzz test) is reported, not raised as csv.Error."""
    from twin.errors import InputError
    from twin.loader import orders_from_csv

    text = "id,product,quantity,due\nA,VALVE,5,10h\nB,VAL\rVE,5,10h\n"
    try:
        orders_from_csv(text, demo_plant, "o.csv")
    except InputError as exc:
        (issue,) = exc.issues
        assert issue.source == "o.csv" and issue.line == 3
        assert "not valid CSV" in issue.message
    else:
        raise AssertionError("no InputError")
