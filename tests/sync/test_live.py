"""A real virtual plant and a real sync client over 127.0.0.1: exact part counts, dispatch, bad values."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from asyncua import ua

from sync.client import SyncClient
from sync.dispatch import DispatchService, Target
from sync.joborders import Job, JobState
from sync.sink import MemorySink
from sync.virtual.server import VirtualPlant
from twin.errors import DispatchRefused, SyncError
from twin.history.store import HistoryStore
from twin.history.verdicts import record_verdict
from twin.loader import plant_from_text
from twin.orders import Order, book_hash
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation
from twin.states import MachineState
from twin.verdict import AcceptancePolicy, Verdict

pytestmark = pytest.mark.timeout(60)


async def until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for `cond` (polling); fail naming `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def _plan(orders: list[Order]) -> Schedule:
    ops = []
    for i, o in enumerate(orders):
        t = i * 1800.0
        ops.append(ScheduledOperation(o.id, 0, "mill", "mill", 0, t, t + 1800.0, quantity=o.quantity))
        ops.append(
            ScheduledOperation(o.id, 1, "inspect", "inspect", 0, t + 1800, t + 2700.0, quantity=o.quantity)
        )
    return Schedule(tuple(ops), plant_hash="cell")


async def test_parts_in_the_history_equal_parts_the_virtual_plant_made(
    cell: Plant, tmp_path: Path, shelf: Path
) -> None:
    orders = [Order(f"O{i}", "P", 40) for i in range(1, 7)]  # 240 units: about 2.5 plant hours
    plan = _plan(orders)
    accepted = Verdict(
        plan.content_hash(), True, (), (), (plan.makespan,), 30, 1, AcceptancePolicy(),
        plant_hash=cell.content_hash(), orders_hash=book_hash(orders),
    )  # fmt: skip
    with HistoryStore(tmp_path / "history.duckdb") as store:
        async with (
            VirtualPlant(cell, port=0, speed=4000, seed=3, shelf=shelf) as vp,
            SyncClient(cell, vp.endpoint, sink=store, batch_rows=200) as client,
        ):
            dispatcher = DispatchService(store, started_by="test")
            target = Target(plan, cell, tuple(orders))
            with pytest.raises(DispatchRefused, match="has no verdict"):
                await dispatcher.dispatch(client.ua_client, target)  # not checked yet: nothing sent
            assert vp.jobs.states == {}
            record_verdict(store, accepted, plant=cell, orders=orders, started_by="test", schedule=plan)
            result = await dispatcher.dispatch(client.ua_client, target)
            assert result.ok and len(result.sent) == 12
            assert vp.floor is not None
            await until(
                lambda: all(s == JobState.ENDED for s in vp.jobs.states.values()) and not vp.floor.busy(),
                30,
                "all job orders Ended and the floor empty (scrap re-made)",
            )
            made = {s: (vp.floor.good[s], vp.floor.reject[s]) for s in ("mill", "inspect")}
            await until(
                lambda: all(
                    (client.tracker.produced(s), client.tracker.scrapped(s)) == made[s] for s in made
                ),
                10,
                f"sync to count {made}",
            )
            live = client.live
        counted = store.sql(
            "SELECT station, kind, sum(quantity) AS n FROM actual_events "
            "WHERE kind IN ('produced', 'scrapped') GROUP BY ALL"
        )
        got = {(r.station, r.kind): int(r.n) for r in counted.itertuples()}
        runs = store.sql("SELECT kind, status FROM runs ORDER BY created_at")
    # the virtual plant's own totals, and an independent check: every dispatched unit was made once
    assert got == {
        ("mill", "produced"): made["mill"][0],
        ("mill", "scrapped"): made["mill"][1],
        ("inspect", "produced"): made["inspect"][0],
        ("inspect", "scrapped"): made["inspect"][1],
    }
    # independent checks, by conservation: with scrap re-made every order ends with its 40 good
    # units, and every good milled unit was inspected once
    assert made["inspect"][0] == 240
    assert made["mill"][0] == sum(made["inspect"])
    assert made["mill"][1] > 0 and made["inspect"][1] > 0  # some scrap: reject counters exercised
    # done: idle, unless a breakdown (time-based, also while idle) has it down right now
    assert live.stations["mill"].state in (MachineState.IDLE, MachineState.ABORTED) and not live.stale
    assert live.stations["mill"].current_order == "O6"
    assert 38.0 < live.stations["mill"].process_values["temp"] < 44.0
    assert list(runs.itertuples(index=False, name=None)) == [
        ("dispatch", "refused"),
        ("verdict", "ok"),
        ("dispatch", "ok"),
    ]


async def test_bad_values_are_recorded_with_their_status(cell: Plant, shelf: Path) -> None:
    sink = MemorySink()
    async with (
        VirtualPlant(cell, port=0, speed=1, shelf=shelf) as vp,
        SyncClient(cell, vp.endpoint, sink=sink) as client,
    ):
        nodes = {name: vp._nodes[("mill", name)] for name in ("good_count", "cycle_time", "pv:temp", "state")}
        t0 = cell.epoch + timedelta(seconds=100)

        async def put(name: str, value: object, vtype: ua.VariantType, t: float, status: int = 0) -> None:
            dv = ua.DataValue(
                ua.Variant(value, vtype),
                StatusCode=ua.StatusCode(status),
                SourceTimestamp=t0 + timedelta(seconds=t),
            )
            await vp.server.write_attribute_value(nodes[name], dv)
            await asyncio.sleep(0.25)  # one publishing interval apart

        # a foreign server may publish any type: asyncua's own lets a node without value take one
        vp.server.iserver.aspace._nodes[nodes["cycle_time"]].attributes[ua.AttributeIds.Value].value = None
        await put("good_count", 5, ua.VariantType.UInt32, 0)
        await put("good_count", 9, ua.VariantType.UInt32, 1, ua.StatusCodes.BadSensorFailure)
        await put("cycle_time", "fast", ua.VariantType.String, 2)
        await put("pv:temp", math.nan, ua.VariantType.Double, 3)
        await put("state", "Exploding", ua.VariantType.String, 4)
        await put("good_count", 7, ua.VariantType.UInt32, -50)  # older than the good 5: out of order
        await put("good_count", 8, ua.VariantType.UInt32, 10)
        await until(lambda: client.tracker.produced("mill") == 8, 5, "the last good counter value")
        live = client.live.stations["mill"]
    client.flush()
    rows = sink.values
    mill = rows[(rows.station == "mill") & (rows.time >= 50)]
    text = [None if pd.isna(t) else t for t in mill.value_text]
    got = list(zip(mill.tag, text, mill.status, strict=True))
    assert got == [
        ("good_count", "5", "good"),
        ("good_count", None, "bad:BadSensorFailure"),  # a bad value travels without its value
        ("cycle_time", "fast", "wrong_type"),
        ("pv:temp", "nan", "nan"),
        ("state", "Exploding", "wrong_type"),
        ("good_count", "7", "out_of_order"),
        ("good_count", "8", "good"),
    ]
    assert int(mill.status_code.iloc[1]) == ua.StatusCodes.BadSensorFailure
    # none of the bad ones reached the live state
    assert live.good_count == 8 and live.state == MachineState.IDLE
    assert live.last_cycle_time == 0.0 and live.process_values["temp"] == 40.0


INSPECT = """
name: inspect-cell
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:test"}
settings: {scrap_policy: short}
lines:
  - id: L
    stations:
      - id: inspect
products:
  - id: P
    routing: [{id: inspect, stations: inspect, time: 20, yield: 0.95}]
"""


async def test_a_counter_that_goes_down_means_a_restart_and_nothing_is_counted_twice(
    port: int, shelf: Path
) -> None:
    # one deterministic station, scrap not remade: a job of n units makes exactly n (good + reject)
    cell, _ = plant_from_text(INSPECT, "inspect.yaml")
    job = Job("A", "A", "P", 0, "inspect", "inspect", 0, 10)
    client = SyncClient(cell, f"opc.tcp://127.0.0.1:{port}", reconnect_max_delay=1.0)
    async with VirtualPlant(cell, port=port, speed=2000, seed=1, shelf=shelf) as vp, client:
        assert vp.floor is not None
        vp.floor.submit(job)
        await until(
            lambda: vp.jobs.states == {} and vp.floor.good["inspect"] + vp.floor.reject["inspect"] == 10,
            10,
            "first 10 units",
        )
        first = vp.floor.good["inspect"]
        await until(lambda: client.tracker.produced("inspect") == first, 5, "sync to see them")
        await vp.stop()
        await until(lambda: client.live.stale, 5, "the live state to go stale")
        # a new server on the same port: its counters start at 0 again
        async with VirtualPlant(cell, port=port, speed=2000, seed=2, shelf=shelf) as vp2:
            assert vp2.floor is not None
            vp2.floor.submit(Job("B", "B", "P", 0, "inspect", "inspect", 0, 5))
            await until(lambda: vp2.floor.good["inspect"] + vp2.floor.reject["inspect"] == 5, 10, "5 more")
            second = vp2.floor.good["inspect"]
            await until(lambda: client.tracker.produced("inspect") == first + second, 15, "sync to reconnect")
            assert not client.live.stale and client.reconnects >= 1
    assert client.tracker.lost_unknown == {("inspect", "good_count"): 1}


TAGGED = """
name: tagged
epoch: 2026-11-30T00:00:00+00:00
opcua: {namespace_uri: "urn:plantwin:tagged"}
settings: {scrap_policy: short}
lines:
  - id: L
    stations:
      - id: press
        tags:
          good_count: "browse:Press/Counters/Good"
          reject_count: "ns=2;i=5001"
          state: "nsu=urn:plantwin:tagged;s=press-state"
        process_values: [{name: force, target: 10.0, sd: 0.2}]
products:
  - id: P
    routing: [{id: press, stations: press, time: 20, yield: 0.9}]
"""


async def test_tags_by_browse_path_numeric_id_and_uri_and_writes_without_timestamps(shelf: Path) -> None:
    plant, _ = plant_from_text(TAGGED, "tagged.yaml")
    sink = MemorySink()
    async with (
        VirtualPlant(plant, port=0, speed=3000, shelf=shelf) as vp,
        SyncClient(plant, vp.endpoint, sink=sink) as client,
    ):
        assert vp.floor is not None
        vp.floor.submit(Job("J", "J", "P", 0, "press", "press", 0, 30))
        await until(lambda: vp.floor.good["press"] + vp.floor.reject["press"] == 30, 10, "30 units")
        made = (vp.floor.good["press"], vp.floor.reject["press"])
        await until(
            lambda: (client.tracker.produced("press"), client.tracker.scrapped("press")) == made, 5, "counts"
        )
        force = next(t for t in client.tags if t.tag == "pv:force")
        with pytest.raises(SyncError, match="BadUserAccessDenied"):  # read-only until the server says so
            await client.write(force, 12.5, ua.VariantType.Double)
        await vp.server.get_node(vp._nodes[("press", "pv:force")]).set_writable()
        await client.write(force, 12.5, ua.VariantType.Double)
        stored = await vp.server.get_node(vp._nodes[("press", "pv:force")]).read_data_value()
    assert stored.Value.Value == 12.5 and stored.SourceTimestamp is None
    refs = set(sink.values.node_id)
    assert {"browse:Press/Counters/Good", "ns=2;i=5001", "nsu=urn:plantwin:tagged;s=press-state"} <= refs
