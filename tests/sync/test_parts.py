"""Pure parts of sync: tag references, batching, job order states, job orders of a schedule."""

from __future__ import annotations

import pytest

from sync.joborders import Job, JobBook, JobState, Status, job_from_json, job_key, job_orders, job_to_json
from sync.sink import BatchWriter, MemorySink
from sync.tags import parse_ref, plant_tags
from twin.errors import DispatchRefused
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation


def test_references_parse_by_uri_index_numeric_and_browse_path() -> None:
    p = parse_ref("nsu=urn:plantwin:demo;s=MACH.cnc1.GoodCount")
    assert (p.kind, p.namespace_uri, p.id_type, p.identifier) == (
        "node",
        "urn:plantwin:demo",
        "s",
        "MACH.cnc1.GoodCount",
    )
    p = parse_ref("ns=3;i=1042")
    assert (p.namespace_index, p.id_type, p.identifier) == (3, "i", "1042")
    assert parse_ref("i=2258").namespace_index == 0
    assert parse_ref("browse:site/L/mill/2:GoodCount").path == ("site", "L", "mill", "2:GoodCount")
    for bad in ("nsu=urn:x", "ns=x;s=a", "i=abc", "browse:", "q=1"):
        with pytest.raises(ValueError):
            parse_ref(bad)


def test_demo_plant_tags_follow_the_convention(demo_plant: Plant) -> None:
    tags = {(t.station, t.tag): t.ref for t in plant_tags(demo_plant)}
    assert tags[("cnc1", "good_count")] == "nsu=urn:plantwin:demo;s=MACH.cnc1.GoodCount"
    assert tags[("cnc1", "pv:spindle_temp")] == "nsu=urn:plantwin:demo;s=MACH.cnc1.spindle_temp"
    assert ("saw", "pv:spindle_temp") not in tags


def test_batch_writer_flushes_on_size_and_on_age() -> None:
    now = [0.0]
    sink = MemorySink()
    w = BatchWriter(sink, max_rows=3, max_age=1.0, clock=lambda: now[0])
    row = {"time": 1.0, "node_id": "n", "value": 1.0, "status_code": 0, "status": "good"}
    w.add(row, [])
    w.add(row, [])
    assert sink.value_frames == []
    w.add(row, [])
    assert [len(f) for f in sink.value_frames] == [3]
    w.add(row, [{"time": 1.0, "station": "s", "kind": "produced", "quantity": 2}])
    now[0] = 0.5
    w.maybe_flush()
    assert len(sink.value_frames) == 1
    now[0] = 1.6
    w.maybe_flush()
    assert [len(f) for f in sink.value_frames] == [3, 1] and int(sink.events.quantity.sum()) == 2


def test_job_book_follows_the_isa95_states() -> None:
    book = JobBook()
    job = Job("O1/0", "O1", "P", 0, "mill", "mill", 0, 5)
    assert job_from_json(job_to_json(job)) == job
    assert "transfer_batch" not in job_to_json(job)  # optional: a job order as before
    split = Job("O1/0", "O1", "P", 0, "mill", "mill", 0, 5, transfer_batch=2)
    assert job_from_json(job_to_json(split)) == split
    assert book.store(job) == Status.OK
    assert book.store(job) == Status.DUPLICATE_JOB_ORDER
    assert book.states["O1/0"] == JobState.NOT_ALLOWED_TO_START
    assert book.start("nope") == Status.UNKNOWN_JOB_ORDER
    assert book.start("O1/0") == Status.OK and book.states["O1/0"] == JobState.ALLOWED_TO_START
    book.running("O1/0")
    assert book.cancel("O1/0") == Status.INVALID_STATE
    assert book.clear("O1/0") == Status.INVALID_STATE
    book.ended("O1/0")
    assert book.states["O1/0"] == JobState.ENDED and book.clear("O1/0") == Status.OK
    book.store(job)
    assert book.cancel("O1/0") == Status.OK and book.states["O1/0"] == JobState.ABORTED


def _schedule() -> Schedule:
    return Schedule(
        (
            ScheduledOperation("O1", 0, "mill", "mill", 0, 0.0, 300.0, setup=120.0, quantity=5),
            ScheduledOperation("O1", 1, "inspect", "inspect", 0, 300.0, 400.0, quantity=5),
        ),
        plant_hash="p",
    )


def test_a_schedule_becomes_one_job_order_per_operation_in_schedule_order() -> None:
    plan = _schedule()
    jobs = job_orders(plan, [Order("O1", "P", 5)])
    assert [(j.job_id, j.product, j.quantity) for j in jobs] == [("O1/0", "P", 5), ("O1/1", "P", 5)]
    assert [job_key(j.job_id) for j in jobs] == [("O1", 0), ("O1", 1)]
    assert job_key("not-a-job") is None
    with pytest.raises(DispatchRefused, match="not in the order book"):
        job_orders(plan, [])


def test_the_virtual_floor_follows_a_job_orders_transfer_batch() -> None:
    import simpy

    from sync.virtual.simfloor import SimFloor
    from twin.loader import plant_from_text

    plant, _ = plant_from_text(
        "name: tb\nepoch: 2026-11-30T00:00:00+00:00\n"
        "lines: [{id: L, stations: [{id: a}, {id: b}]}]\n"
        "products: [{id: P, routing: [{id: o1, stations: a, time: 10}, {id: o2, stations: b, time: 6}]}]\n",
        "tb.yaml",
    )
    starts: dict[str, float] = {}

    def seen(rec: dict) -> None:
        if rec.get("kind") == "operation_start":
            starts.setdefault(rec["station"], rec["time"])

    env = simpy.Environment()
    floor = SimFloor(plant, env, seed=0, observer=lambda rec: None)
    floor.on_sim_record = seen  # the simulator's own records
    floor.submit(Job("A/0", "A", "P", 0, "o1", "a", 0, 10, transfer_batch=4))
    floor.submit(Job("A/1", "A", "P", 1, "o2", "b", 0, 10))
    env.run(until=200)
    assert starts == {"a": 0.0, "b": 40.0}  # b starts on the first batch of 4, not at 100
