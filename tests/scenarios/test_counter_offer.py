"""Counter-offers for refused rush orders: the offered date is accepted when re-checked, and the
keep-the-date alternative names the orders that give way (a one-machine plant worked by EDD,
where the answer is known by hand)."""

from __future__ import annotations

from pathlib import Path

from scenarios.counteroffer import counter_offer
from scenarios.files import prepare
from scenarios.runner import run_scenario

PLANT = """
name: one-machine
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations: [{id: m}]
products:
  - id: p
    routing: [{id: o, stations: m, time: 10}]
"""
ORDERS = "id,product,quantity,release,due,weight\nA,p,10,0,150,1\nB,p,10,0,250,1\n"


def _scenario(tmp_path: Path, due: float) -> str:
    (tmp_path / "plant.yaml").write_text(PLANT)
    (tmp_path / "orders.csv").write_text(ORDERS)
    return (
        "name: rush\nbase: {plant: plant.yaml, orders: orders.csv}\n"
        "judge:\n  replications: 2\n  planner: {mode: dispatch, rule: EDD}\n"
        "  policy: {min_on_time: 0.8}\n  counter_offer: {resolution: 1}\n"
        f"changes: [{{type: add_order, id: R, product: p, quantity: 10, due: {due}}}]\n"
    )


def test_refused_rush_gets_the_earliest_date_that_is_accepted_when_rechecked(tmp_path: Path) -> None:
    # EDD puts R (due 100) first: R on time, A (due 150) done at 200 and B (due 250) at 300, both
    # 50 s late -> refused. A later
    # date only helps once EDD works A and B first: R due >= 251 ties broken, done at 300.
    report = run_scenario(prepare(_scenario(tmp_path, 100), "<t>", base_dir=tmp_path))
    (variant,) = report.variants
    assert variant.fits is False
    offer = variant.counter_offer
    assert offer is not None and offer.earliest_due is not None
    assert offer.asked_due == {"R": 100.0}
    assert 250 < offer.earliest_due["R"] <= 301, offer.candidates
    assert [(s.order_id, s.slip) for s in offer.keep_date] == [("A", 50.0), ("B", 50.0)]
    assert report.to_dict()["counter_offer"]["earliest_due"] == offer.earliest_due
    # The offer, re-checked as a what-if of its own, fits; a second less does not.
    again = run_scenario(prepare(_scenario(tmp_path, offer.earliest_due["R"]), "<t>", base_dir=tmp_path))
    assert again.variants[0].fits is True and again.variants[0].counter_offer is None
    before = run_scenario(prepare(_scenario(tmp_path, offer.earliest_due["R"] - 1), "<t>", base_dir=tmp_path))
    assert before.variants[0].fits is False


def test_no_offer_within_the_search_horizon_says_so() -> None:
    offer = counter_offer(
        lambda delay: False, {"R": 100.0}, (), first_guess=10.0, resolution=5.0, max_delay=100.0
    )
    assert offer.earliest_due is None and offer.delay is None
    assert offer.notes and "no due time within" in offer.notes[0]
    assert all(not ok for _, ok in offer.candidates)


def test_search_finds_a_threshold_to_its_resolution() -> None:
    offer = counter_offer(lambda d: d >= 1234.0, {"R": 0.0}, (), first_guess=100.0, resolution=10.0)
    assert offer.delay is not None and 1234.0 <= offer.delay < 1244.0
    assert (offer.delay, True) in offer.candidates
