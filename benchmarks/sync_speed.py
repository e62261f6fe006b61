"""Sync speed: value changes per second from an OPC UA server to the history, and the latency from
the server's source timestamp to the value being in the live state (p50, p99), for 100, 1000
and 5000 subscribed nodes; beside it, in the same run, the same window and against the same
server, a bare asyncua client that only counts notifications (same subscription settings, a
handler, as asyncua's documentation shows).

    .venv/bin/python benchmarks/sync_speed.py                 # 100, 1000, 5000 nodes, 8 s each
    .venv/bin/python benchmarks/sync_speed.py --nodes 1000 --seconds 4 --rounds 3

The two clients run at the same time, each in its own process, and measure the same window
(from a wall-clock instant the parent gives both): on a shared machine the load then weighs on
both alike, where measuring one after the other compared two different machines. `--rounds`
repeats the pair; the table shows each round and the ratios ours/bare.

The server runs in its own process (as a real server would) and rewrites every node as fast as
it can: counters count up, states cycle, process values move, each with source timestamp =
now. It counts its writes, so a client's figure can be compared with what was offered. The
plantwin client is `sync.client.SyncClient` writing to a real `twin.history.HistoryStore`
(DuckDB file), its rate the rows the history received. Latency = wall time when the value
reached the live state (the tracker) minus its source timestamp (one machine, one clock).
Server and both clients share the machine's cores, so figures depend on its load: `uptime`
is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Client, Server, ua

from sync.client import SyncClient
from sync.tags import parse_ref, plant_tags
from sync.tracker import Outcome
from twin.history import HistoryStore
from twin.loader import plant_from_text
from twin.plant import Plant
from twin.states import MachineState

PVS_PER_STATION = 4  # with the 6 scalar tags: 10 nodes per station
URI = "urn:plantwin:bench"
WRITTEN = "Bench.Written"


def bench_plant(nodes: int) -> Plant:
    """A plant with nodes / 10 stations of 10 tags each (6 scalar tags + 4 process values)."""
    stations = max(1, nodes // (6 + PVS_PER_STATION))
    pvs = ", ".join(f"{{name: pv{k}, target: 50.0, sd: 1.0}}" for k in range(PVS_PER_STATION))
    lines = "\n".join(f"      - {{id: s{i:04d}, process_values: [{pvs}]}}" for i in range(stations))
    text = f"""
name: bench
epoch: 2026-11-30T00:00:00+00:00
opcua: {{namespace_uri: "{URI}"}}
lines:
  - id: L
    stations:
{lines}
products:
  - id: p
    routing: [{{id: op, stations: s0000, time: 10}}]
"""
    return plant_from_text(text, "bench")[0]


# ---- the server process ----
async def serve(nodes: int, port: int) -> None:
    plant = bench_plant(nodes)
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace(URI)
    folder = await server.nodes.objects.add_folder(ua.NodeId("Bench", ns), "Bench")
    written_node = await folder.add_variable(ua.NodeId(WRITTEN, ns), "Written", 0, ua.VariantType.UInt64)
    items: list[tuple[ua.NodeId, str]] = []
    for tag in plant_tags(plant):
        ident = parse_ref(tag.ref).identifier
        kind = tag.tag
        vtype, init = {
            "state": (ua.VariantType.String, "Idle"),
            "good_count": (ua.VariantType.UInt32, 0),
            "reject_count": (ua.VariantType.UInt32, 0),
            "current_order": (ua.VariantType.String, "O0"),
            "current_operation": (ua.VariantType.String, "op"),
        }.get(kind, (ua.VariantType.Double, 0.0))
        var = await folder.add_variable(ua.NodeId(ident, ns), ident, init, vtype)
        items.append((var.nodeid, kind))
    states = [s.value for s in MachineState]
    written = 0
    async with server:
        print("ready", flush=True)
        n = 0
        while True:
            n += 1
            now = datetime.now(UTC)
            for i, (nodeid, kind) in enumerate(items):
                if kind in ("good_count", "reject_count"):
                    v = ua.Variant(n, ua.VariantType.UInt32)
                elif kind == "state":
                    v = ua.Variant(states[(n + i) % len(states)], ua.VariantType.String)
                elif kind in ("current_order", "current_operation"):
                    v = ua.Variant(f"O{n}", ua.VariantType.String)
                else:
                    v = ua.Variant(50.0 + (n % 100) / 10.0, ua.VariantType.Double)
                await server.write_attribute_value(
                    nodeid, ua.DataValue(v, SourceTimestamp=now, ServerTimestamp=now)
                )
                written += 1
                if i % 500 == 499:
                    await asyncio.sleep(0)  # let the server publish
            await server.write_attribute_value(
                written_node.nodeid, ua.DataValue(ua.Variant(written, ua.VariantType.UInt64))
            )
            await asyncio.sleep(0)


# ---- the two clients ----
def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def _written(endpoint: str) -> int:
    async with Client(endpoint, timeout=10.0, watchdog_intervall=3.0) as c:
        idx = await c.get_namespace_index(URI)
        return int(await c.get_node(ua.NodeId(WRITTEN, idx)).read_value())


async def _until(start_at: float | None, warm_up: float = 2.0) -> None:
    await asyncio.sleep(warm_up if start_at is None else max(0.0, start_at - time.time()))


async def measure_plantwin(
    plant: Plant, endpoint: str, seconds: float, db: Path, start_at: float | None = None
) -> dict[str, Any]:
    lat: list[float] = []
    window = {"on": False}

    def on_value(outcome: Outcome) -> None:
        if window["on"] and outcome.row["source_time"] is not None:
            lat.append((datetime.now(UTC) - outcome.row["source_time"]).total_seconds())

    with HistoryStore(db) as store:
        client = SyncClient(plant, endpoint, sink=store, on_value=on_value, batch_rows=5000, batch_age=0.5)
        await client.connect()
        await _until(start_at)  # warm-up
        w0, h0 = await _written(endpoint), client._writer.values_written if client._writer else 0
        window["on"] = True
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        window["on"] = False
        client.flush()
        h1 = client._writer.values_written if client._writer else 0
        dt = time.monotonic() - t0
        w1 = await _written(endpoint)
        await client.disconnect()
        rows = int(store.sql("SELECT count(*) AS n FROM actual_values").n.iloc[0])
    return {
        "rate": (h1 - h0) / dt,
        "offered": (w1 - w0) / dt,
        "p50": _pct(lat, 0.5),
        "p99": _pct(lat, 0.99),
        "rows": rows,
    }


class _Counter:
    def __init__(self) -> None:
        self.n = 0
        self.on = False
        self.lat: list[float] = []

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        if self.on:
            self.n += 1
            ts = data.monitored_item.Value.SourceTimestamp
            if ts is not None:
                self.lat.append((datetime.now(UTC) - ts).total_seconds())


async def measure_bare(
    plant: Plant, endpoint: str, seconds: float, start_at: float | None = None
) -> dict[str, Any]:
    counter = _Counter()
    async with Client(endpoint, timeout=10.0, watchdog_intervall=3.0) as c:  # as SyncClient
        idx = await c.get_namespace_index(URI)
        nodes = [c.get_node(ua.NodeId(parse_ref(t.ref).identifier, idx)) for t in plant_tags(plant)]
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=100.0,
            RequestedLifetimeCount=60,
            RequestedMaxKeepAliveCount=20,
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
            Priority=0,
        )
        sub = await c.create_subscription(params, counter)
        for i in range(0, len(nodes), 500):
            await sub.subscribe_data_change(nodes[i : i + 500], queuesize=100, sampling_interval=0.0)
        await _until(start_at)
        w0 = await _written(endpoint)
        counter.on = True
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        counter.on = False
        dt = time.monotonic() - t0
        w1 = await _written(endpoint)
        await sub.delete()
    return {
        "rate": counter.n / dt,
        "offered": (w1 - w0) / dt,
        "p50": _pct(counter.lat, 0.5),
        "p99": _pct(counter.lat, 0.99),
    }


async def _client_main(
    kind: str, nodes: int, endpoint: str, start_at: float, seconds: float, db: str
) -> None:
    """One client process: connect, warm up until `start_at` (wall clock), measure `seconds`,
    print one JSON line."""
    import json

    plant = bench_plant(nodes)
    if kind == "plantwin":
        r = await measure_plantwin(plant, endpoint, seconds, Path(db), start_at=start_at)
    else:
        r = await measure_bare(plant, endpoint, seconds, start_at=start_at)
    print(json.dumps(r), flush=True)


async def run_size(nodes: int, seconds: float, tmp: Path, rounds: int) -> list[tuple[str, dict[str, Any]]]:
    """Per round: both clients at once against one server, the same measuring window."""
    import json

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(nodes), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out: list[tuple[str, dict[str, Any]]] = []
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        if b"ready" not in line:
            raise RuntimeError(f"bench server did not start: {line!r}")
        endpoint = f"opc.tcp://127.0.0.1:{port}"
        for k in range(rounds):
            start_at = time.time() + 4.0  # connect + subscribe + warm-up of both before it
            clients = {
                kind: subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--client",
                        kind,
                        "--nodes",
                        str(nodes),
                        "--endpoint",
                        endpoint,
                        "--start-at",
                        repr(start_at),
                        "--seconds",
                        str(seconds),
                        "--db",
                        str(tmp / f"h{nodes}-{k}.duckdb"),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                for kind in ("plantwin", "bare")
            }
            for kind, name in (
                ("plantwin", "plantwin sync -> history"),
                ("bare", "bare asyncua (count only)"),
            ):
                stdout, _ = await asyncio.to_thread(clients[kind].communicate, timeout=seconds + 60)
                if clients[kind].returncode != 0 or not stdout.strip():
                    raise RuntimeError(f"the {kind} client failed (exit {clients[kind].returncode})")
                out.append((name, json.loads(stdout.decode().strip().splitlines()[-1])))
    finally:
        proc.terminate()
        proc.wait(10)
    return out


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (closed again before the server binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, nargs="*", default=[100, 1000, 5000])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rounds", type=int, default=1, help="pairs of runs per size (default 1)")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--client", choices=["plantwin", "bare"], help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    ap.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # its reconnect/session chatter
    if args.serve:
        asyncio.run(serve(args.serve, args.port))
        return
    if args.client:
        asyncio.run(
            _client_main(args.client, args.nodes[0], args.endpoint, args.start_at, args.seconds, args.db)
        )
        return
    print(f"load before: {os.getloadavg()}  ({os.cpu_count()} cores)")
    print(f"{'nodes':>6}  {'client':28s} {'values/s':>9} {'offered/s':>9} {'p50 ms':>7} {'p99 ms':>7}")
    ratios: dict[int, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as d:
        for n in args.nodes:
            rows = asyncio.run(run_size(n, args.seconds, Path(d), args.rounds))
            for name, r in rows:
                print(
                    f"{n:>6}  {name:28s} {r['rate']:>9.0f} {r['offered']:>9.0f} "
                    f"{r['p50'] * 1000:>7.0f} {r['p99'] * 1000:>7.0f}",
                    flush=True,
                )
            for (_, ours), (_, bare) in zip(rows[::2], rows[1::2], strict=True):
                ratios.setdefault(n, []).append((ours["rate"] / bare["rate"], ours["p99"] / bare["p99"]))
    for n, rs in ratios.items():
        shown = "  ".join(f"{a:.2f}x / {b:.2f}x" for a, b in rs)
        print(f"{n:>6}  ours/bare, rate / p99 latency per round: {shown}")
    print(f"load after: {os.getloadavg()}")
    print("values/s: values received per second (plantwin: rows in the history); offered/s: the")
    print("server's writes per second meanwhile; latency: source timestamp -> live state / handler.")


if __name__ == "__main__":
    main()
