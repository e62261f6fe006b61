"""A verdict serialises itself and reads back equal; it names the schedule, plant and order book."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.fit import misfits
from twin.loader import load_orders, load_plant
from twin.orders import Order, book_hash
from twin.samples import sample_path
from twin.schedule import Schedule, ScheduledOperation
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict

ids = st.text("abcdefgh0123456789-/", min_size=1, max_size=8)
finite = st.floats(min_value=0.0, max_value=1e7, allow_nan=False)
probability = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
digest = st.text("0123456789abcdef", min_size=64, max_size=64)

order_verdicts = st.builds(
    OrderVerdict,
    order_id=ids,
    due=st.one_of(finite, st.just(math.inf)),
    planned_completion=st.one_of(st.none(), finite),
    on_time_probability=probability,
    ci_low=probability,
    ci_high=probability,
    mean_completion=finite,
    mean_lateness=finite,
    delay=st.dictionaries(ids, finite, max_size=3),
)
verdicts = st.builds(
    Verdict,
    schedule_hash=digest,
    accepted=st.booleans(),
    reasons=st.lists(st.text(max_size=30), max_size=3).map(tuple),
    orders=st.lists(order_verdicts, max_size=4).map(tuple),
    makespans=st.lists(finite, max_size=4).map(tuple),
    replications=st.integers(1, 1000),
    seed=st.integers(0, 2**31),
    policy=st.builds(AcceptancePolicy, probability, st.one_of(st.none(), probability)),
    station_utilisation=st.dictionaries(ids, probability, max_size=3),
    overloaded=st.lists(ids, max_size=2).map(tuple),
    starved=st.lists(ids, max_size=2).map(tuple),
    plant_hash=digest,
    orders_hash=digest,
)


def _not_strict_json(token: str) -> None:
    raise AssertionError(f"{token} in the JSON (not strict JSON)")


@given(verdicts)
def test_a_verdict_reads_back_equal_from_its_json(v: Verdict) -> None:
    text = v.to_json()
    json.loads(text, parse_constant=_not_strict_json)  # strict JSON: no Infinity or NaN tokens
    assert Verdict.from_json(text) == v
    assert Verdict.from_dict(json.loads(text)).judges(v.schedule_hash, v.plant_hash, v.orders_hash)


def test_a_verdict_judges_exactly_its_schedule_plant_and_book() -> None:
    v = Verdict("s" * 64, True, (), (), (), 3, 1, AcceptancePolicy(), plant_hash="p", orders_hash="b")
    assert v.judges("s" * 64, "p", "b")
    assert not v.judges("s" * 64, "q", "b") and not v.judges("s" * 64, "p", "c")
    with pytest.raises(KeyError):
        Verdict.from_dict({"accepted": True})


def test_the_book_hash_depends_on_every_field_and_the_order_of_the_book() -> None:
    a, b = Order("A", "P", 1, due=10.0), Order("B", "P", 2)
    assert book_hash([a, b]) == book_hash([Order("A", "P", 1, due=10.0), Order("B", "P", 2)])
    assert book_hash([a, b]) != book_hash([b, a])
    assert book_hash([a]) != book_hash([Order("A", "P", 1, due=11.0)])


def test_a_schedule_for_another_plant_or_book_does_not_fit() -> None:
    path = sample_path("jobshop3x3")
    assert path is not None
    plant, _ = load_plant(path)
    book = load_orders(path.parent / "orders.csv", plant)
    good = Schedule((ScheduledOperation("J0", 0, "o0", "m0", 0, 0.0, 3.0),))
    assert misfits(good, plant, book) == []
    bad = Schedule(
        (
            ScheduledOperation("J0", 0, "o0", "saw", 0, 0.0, 3.0),  # no such station
            ScheduledOperation("J0", 1, "o1", "m1", 2, 3.0, 5.0),  # m1 has one machine
            ScheduledOperation("J0", 2, "drill", "m2", 0, 5.0, 7.0),  # op 2 of job0 is o2
            ScheduledOperation("J1", 1, "o1", "m0", 0, 5.0, 7.0),  # job1's o1 runs on m2
            ScheduledOperation("X9", 0, "o0", "m0", 0, 7.0, 9.0),  # no such order
        )
    )
    found = misfits(bad, plant, book)
    assert sorted(found) == sorted(
        [
            "station 'saw' is not in plant 'jobshop3x3'",
            "operation J0/1 (o1): station 'm1' has 1 machine(s), no machine 2",
            "operation J0/2 (drill): operation 2 of product 'job0' is 'o2'",
            "operation J1/1 (o1): runs on m2, not on 'm0'",
            "order 'X9' is not in the order book",
        ]
    )
    # orders from a stream: stations and machines only
    assert sorted(misfits(bad, plant, None)) == sorted(found[:2])
