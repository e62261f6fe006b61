"""Verdicts in a DuckDB history file: recorded once with what they judged, found by the hashes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from twin.errors import HistoryError
from twin.history import HistoryStore
from twin.history.verdicts import find_verdict, get_verdict, record_verdict, schedule_runs, verdicts_on
from twin.orders import Order, book_hash
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation
from twin.verdict import AcceptancePolicy, OrderVerdict, Verdict


def _verdict(schedule: Schedule, plant: Plant, orders: list[Order], accepted: bool = True) -> Verdict:
    rows = (
        OrderVerdict("A", math.inf, 400.0, 0.9, 0.6, 0.98, 420.0, 3.5, {"setup": 12.0}),
        OrderVerdict("B", 900.0, None, 1.0, 0.7, 1.0, math.nan, 0.0),
    )
    return Verdict(
        schedule.content_hash(), accepted, () if accepted else ("late",), rows, (400.0, 410.5), 2, 7,
        AcceptancePolicy(0.8, 0.5), {"kit": 0.5}, ("kit",), (),
        plant_hash=plant.content_hash(), orders_hash=book_hash(orders),
    )  # fmt: skip


def test_a_verdict_is_found_by_schedule_plant_and_book_and_reads_back_whole(
    tmp_path: Path, demo_plant: Plant
) -> None:
    orders = [Order("A", "SEALKIT", 5), Order("B", "SEALKIT", 2, due=900.0)]
    plan = Schedule((ScheduledOperation("A", 0, "kit", "preasm", 0, 100.0, 400.0, quantity=5),))
    other_book = [Order("A", "SEALKIT", 5)]
    with HistoryStore(tmp_path / "h.duckdb") as store:
        v = _verdict(plan, demo_plant, orders)
        with pytest.raises(HistoryError, match="names order book"):
            record_verdict(store, v, plant=demo_plant, orders=other_book, started_by="t")
        with pytest.raises(HistoryError, match="names plant"):
            record_verdict(store, _verdict(plan, demo_plant.model_copy(update={"description": "x"}), orders),
                           plant=demo_plant, orders=orders, started_by="t")  # fmt: skip
        run = record_verdict(store, v, plant=demo_plant, orders=orders, started_by="t", schedule=plan)
        plain = store.record_run("plan", started_by="t", plant=demo_plant, orders=orders)
        with pytest.raises(HistoryError, match="holds no verdict"):
            get_verdict(store, plain)
    with HistoryStore(tmp_path / "h.duckdb", read_only=True) as store:  # from the file on disk
        found = find_verdict(store, plan.content_hash(), demo_plant.content_hash(), book_hash(orders))
        assert found is not None and found.run_id == run
        back = found.verdict
        assert back.to_dict() == v.to_dict()  # every field, NaN and infinity included
        assert math.isinf(back.order("A").due) and math.isnan(back.order("B").mean_completion)
        assert get_verdict(store, run).verdict.to_dict() == v.to_dict()
        assert (
            find_verdict(store, plan.content_hash(), demo_plant.content_hash(), book_hash(other_book)) is None
        )
        assert [r.run_id for r in verdicts_on(store, plan.content_hash())] == [run]
        assert [r.run_id for r in schedule_runs(store, schedule_hash=plan.content_hash())] == [run]
        assert store.get_run(run)["status"] == "ok"
