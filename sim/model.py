"""The SimPy model of a plant: orders become lots that flow through stations of parallel machines.

A lot is one order's quantity at one operation (sim.lots); machines work lots unit
by unit (sim.station). Every machine is one SimPy process; stations hold the input
buffer, the lots blocked upstream and the idle machines. Work follows a plan (each
machine's sequence of `ScheduledOperation`s) where there is one, and a dispatch
rule otherwise. See docs/simulator.md for the behaviour in prose and the hooks the
virtual plant uses. The log is kept in plain lists and turned into DataFrames only
by `PlantModel.result`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import simpy

from sim.lots import INF, MAIN, REMAKE, REWORK, RULES, Feed, Lot, Observer, OpInfo, OrderState
from sim.offtime import off_periods
from sim.station import Station
from sim.streams import sampler, stream
from sim.supplies import Material, Pool
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant
from twin.schedule import Schedule, ScheduledOperation
from twin.timeutil import parse_time


class PlantModel:
    """A plant as SimPy processes; see the module docstring and docs/simulator.md ("Hooks")."""

    def __init__(
        self,
        plant: Plant,
        env: simpy.Environment | None = None,
        *,
        orders: Sequence[Order] = (),
        schedule: Schedule | None = None,
        rule: str = "FIFO",
        seed: int = 0,
        replication: int = 0,
        live: LiveState | None = None,
        observer: Observer | None = None,
        horizon: float | None = None,
    ) -> None:
        rule = rule.upper()
        if rule not in RULES:
            raise ValueError(f"unknown dispatch rule {rule!r}; expected one of {', '.join(RULES)}")
        self.plant = plant
        self.env = env if env is not None else simpy.Environment(live.time if live is not None else 0.0)
        self.start = float(self.env.now)
        self.rule = rule
        self.seed = seed
        self.replication = replication
        self.observer = observer
        self.span_breaks = plant.settings.operations_span_breaks
        self.remake = plant.settings.scrap_policy == "remake"
        latest = max((o.due if math.isfinite(o.due) else o.release for o in orders), default=self.start)
        self.horizon = horizon if horizon is not None else max(latest, self.start) + 28 * 86400.0
        self.op_rows: list[tuple] = []
        self.units_entered = 0
        self.orders: dict[str, OrderState] = {}
        self.order_list: list[OrderState] = []
        self.wip = 0
        self._wip_area = 0.0
        self._wip_t = self.start
        self.pools = {r.id: Pool(self.env, r.id, r.capacity) for r in plant.resources}
        self.materials = {m.id: Material(self, m.id, m.stock, m.replenishment) for m in plant.materials}
        self.stations: dict[str, Station] = {
            s.id: Station(self, s, off_periods(plant, s, self.start, self.horizon)) for s in plant.stations
        }
        self.counter_offset = {s: (0, 0) for s in self.stations}
        self._ops = self._compile_routings()
        self._mean_work: dict[tuple[str, int], float] = {}
        if live is not None:
            self._apply_live_stock(live)
        for mat in self.materials.values():
            mat.review()  # a stock already at its reorder point orders at once
        for mat in plant.materials:
            for d in mat.deliveries:
                at = parse_time(d.at, plant.epoch)
                if at >= self.start:
                    self.env.process(self._delivery(self.materials[mat.id], at, d.quantity))
        for st in self.stations.values():
            for m in st.machines:
                self.env.process(m.run())
            if st.off:
                self.env.process(st.calendar())
        self.dispatch(schedule.operations if schedule is not None else (), orders, live=live)

    # ---- building ----
    def _compile_routings(self) -> dict[str, list[OpInfo]]:
        out: dict[str, list[OpInfo]] = {}
        station_rng = {s: stream(self.seed, self.replication, f"proc:{s}") for s in self.stations}
        for product in self.plant.products:
            ids = [op.id for op in product.routing]
            infos = []
            for k, op in enumerate(product.routing):
                info = OpInfo()
                info.id = op.id
                info.index = k
                info.stations = op.stations
                info.mean = op.time.mean
                info.batch = op.batch_time
                info.yield_ = op.yield_
                info.rework_to = ids.index(op.rework.to) if op.rework is not None else None
                info.rework_share = op.rework.share if op.rework is not None else 0.0
                info.resources = [(self.pools[r], n) for r, n in sorted(op.resources.items())]
                info.consumes = [(self.materials[m], q) for m, q in sorted(op.consumes.items())]
                info.samplers = {s: sampler(op.time, station_rng[s]) for s in op.stations}
                info.scrap_rng = stream(self.seed, self.replication, f"scrap:{product.id}/{op.id}")
                # units handed on together; none at the last operation (nothing follows it)
                info.transfer = op.transfer_batch if k + 1 < len(product.routing) else None
                info.simple = not (
                    info.resources or info.consumes or info.batch or info.yield_ < 1.0 or info.transfer
                )
                nxt = product.routing[k + 1].stations if k + 1 < len(product.routing) else ()
                info.next_station = self.stations[nxt[0]] if len(nxt) == 1 else None
                infos.append(info)
            out[product.id] = infos
        return out

    def _apply_live_stock(self, live: LiveState) -> None:
        for mid, qty in live.stock.items():
            if mid in self.materials:
                self.materials[mid].stock = qty
        for sid, sl in live.stations.items():
            if sid in self.counter_offset:
                self.counter_offset[sid] = (sl.good_count, sl.reject_count)
        for mid in live.down:
            sid, _, k = mid.rpartition("/")
            st = self.stations.get(sid)
            if st is not None and k.isdigit() and int(k) < len(st.machines):
                st.machines[int(k)].down = True

    def _delivery(self, material: Material, at: float, qty: float):
        yield self.env.timeout(at - self.env.now)
        material.add(qty)

    # ---- feeding work ----
    def dispatch(
        self,
        operations: Sequence[ScheduledOperation],
        orders: Sequence[Order] = (),
        *,
        live: LiveState | None = None,
    ) -> None:
        """Add orders (released now or at their release) and append planned operations to the
        machines' sequences. Operations of unknown or finished orders are ignored."""
        completed = live.completed if live is not None else frozenset()
        progress = {(p.order_id, p.op_index): p for p in live.in_progress} if live is not None else {}
        new: list[OrderState] = []
        for order in orders:
            if order.id in self.orders:
                continue
            product = self.plant.product_map[order.product]
            os_ = OrderState(order, self._ops[order.product], product.setup_family)
            self.orders[order.id] = os_
            self.order_list.append(os_)
            new.append(os_)
        known = self.orders
        for sop in operations:
            os_ = known.get(sop.order_id)
            if os_ is None or sop.key in completed or sop.key in progress:
                continue
            if sop.op_index >= len(os_.info) or sop.station not in os_.info[sop.op_index].stations:
                raise ValueError(
                    f"planned operation {sop.key} on {sop.station}: not an eligible station of "
                    f"operation {sop.op_index} of {os_.order.product}"
                )
            st = self.stations[sop.station]
            if not 0 <= sop.machine < len(st.machines):
                raise ValueError(
                    f"planned operation {sop.key}: station {sop.station} has no machine {sop.machine}"
                )
            m = st.machines[sop.machine]
            m.seq.append(sop)
            st.planned[sop.key] = m
            # A lot already waiting unplanned at this station is now planned.
            for i, lot in enumerate(st.queue):
                if lot.kind is MAIN and lot.key == sop.key:
                    del st.queue[i]
                    st.waiting[sop.key] = lot
                    break
        for st in self.stations.values():
            for m in list(st.idle):
                st.idle.remove(m)
                ev, m.wake = m.wake, None
                ev.succeed(None)  # type: ignore[union-attr]
        # A plan may launch more than the order asks (a scrap allowance): its first lot's quantity.
        launch = {sop.order_id: sop.quantity for sop in operations if sop.op_index == 0}
        for os_ in new:
            os_.alive = max(os_.order.quantity, launch.get(os_.order.id, 0))
            self._release(os_, completed, progress, live)

    def _release(
        self,
        os_: OrderState,
        completed: frozenset[tuple[str, int]],
        progress: dict[tuple[str, int], Any],
        live: LiveState | None,
    ) -> None:
        oid = os_.order.id
        n_ops = len(os_.info)
        k = 0
        while k < n_ops and (oid, k) in completed:
            k += 1
        if k == n_ops:
            os_.completion = -math.inf  # finished before the window: not part of this run
            return
        now = self.env.now
        if k > 0:  # started before the window: the floor's lot, not the plan's launch
            os_.alive = os_.order.quantity
        lot = Lot(os_, k, os_.alive, MAIN, max(now, os_.order.release))
        p = progress.get((oid, k))
        if p is not None:
            st = self.stations[p.station]
            m = st.machines[p.machine]
            m.start = (lot, min(p.done_units, lot.qty - 1))
            m.family = os_.family
            self._enter_wip(os_, lot)
            return
        if k > 0 or os_.order.release <= now:
            self._admit_new(lot)
            return
        # A timeout with a callback, not a process per order: releases are cheap events.
        self.env.timeout(os_.order.release - now).callbacks.append(lambda _ev: self._admit_new(lot))

    def _admit_new(self, lot: Lot) -> None:
        self._enter_wip(lot.order, lot)
        dest = self.route(lot)
        if not dest.offer(lot):
            dest.hold(lot, None)

    def _enter_wip(self, os_: OrderState, lot: Lot) -> None:
        os_.open_lots += 1
        if lot.kind is not REWORK:
            self.units_entered += lot.qty
        if lot.kind is MAIN:
            self._wip_step(1)
        obs = self.observer
        if obs is not None:
            obs(
                {
                    "kind": "order_released",
                    "time": self.env.now,
                    "order_id": os_.order.id,
                    "product": os_.order.product,
                    "quantity": lot.qty,
                    "lot": lot.kind,
                }
            )

    def _wip_step(self, d: int) -> None:
        now = self.env.now
        self._wip_area += self.wip * (now - self._wip_t)
        self._wip_t = now
        self.wip += d

    # ---- routing and dispatch rules ----
    def route(self, lot: Lot) -> Station:
        """The station a lot goes to for its current operation: the planned one, the only eligible
        one, or the least loaded (work per machine) of the eligible ones."""
        info = lot.order.info[lot.op_index]
        if len(info.stations) == 1:
            return self.stations[info.stations[0]]
        for s in info.stations:
            if lot.kind is MAIN and lot.key in self.stations[s].planned:
                return self.stations[s]
        return min((self.stations[s] for s in info.stations), key=Station.load)

    def pick(self, queue: list[Lot], station: str) -> int:
        """Index of the lot the dispatch rule takes from a station's queue (ties: first come)."""
        rule = self.rule
        if rule == "EDD":
            return min(range(len(queue)), key=lambda i: queue[i].order.order.due)
        if rule == "SPT":
            return min(range(len(queue)), key=lambda i: self._lot_work(queue[i]))
        now = self.env.now

        def cr(i: int) -> float:
            lot = queue[i]
            remaining = self._remaining_work(lot)
            return (lot.order.order.due - now) / remaining if remaining > 0 else INF

        return min(range(len(queue)), key=cr)

    @staticmethod
    def _lot_work(lot: Lot) -> float:
        info = lot.order.info[lot.op_index]
        return info.batch + lot.qty * info.mean

    def _remaining_work(self, lot: Lot) -> float:
        infos = lot.order.info
        return sum(infos[k].batch + lot.qty * infos[k].mean for k in range(lot.op_index, len(infos)))

    # ---- lots finishing ----
    def _book_losses(self, lot: Lot, scrap: int, rework: int) -> None:
        """Scrap and rework of a lot at its operation: rework lots go back to the rework
        operation; scrap, under the remake policy, is made again from the first operation."""
        os_ = lot.order
        if rework:
            self._spawn(os_, os_.info[lot.op_index].rework_to, rework, REWORK)  # type: ignore[arg-type]
        if scrap:
            os_.scrapped += scrap
            os_.alive -= scrap
            lacking = os_.order.quantity - os_.alive
            if self.remake and lacking > 0:
                os_.alive += lacking
                self._spawn(os_, 0, lacking, REMAKE)

    def finish_lot(self, lot: Lot, good: int, scrap: int, rework: int) -> Station | None:
        """Book a lot's result at its operation; spawn re-make and rework lots. Returns the station
        its good units go to next, None if the lot ends here."""
        os_ = lot.order
        self._book_losses(lot, scrap, rework)
        if good and lot.op_index + 1 < len(os_.info):
            lot.qty = good
            lot.op_index += 1
            nxt = os_.info[lot.op_index].stations
            return self.stations[nxt[0]] if len(nxt) == 1 else self.route(lot)
        os_.good += good
        if lot.kind is MAIN and good == 0:
            self._cancel_plan(lot)
        os_.open_lots -= 1
        # Complete when the order has its quantity (lots still open are surplus of the allowance)
        # or when nothing of it is left in the plant (short).
        if math.isnan(os_.completion) and (os_.open_lots == 0 or os_.good >= os_.order.quantity):
            self._complete(os_)
        return None

    # ---- transfer batches ----
    def send_batch(self, lot: Lot, nxt: Lot | None, units: int) -> Lot:
        """Hand `units` good units of `lot` on to its next operation before the lot is done.

        The first batch creates the lot at the next operation (`nxt`, with a `Feed`; its `qty`
        the units `lot` started with until `close_feed`) and offers it to the next station: it
        may start there once this batch has arrived. A full buffer keeps it waiting in front of
        the station (the upstream machine works on: the batch is in a container, not on it).
        Later batches only add to the feed and wake the machine waiting for them."""
        if nxt is None:
            nxt = Lot(lot.order, lot.op_index + 1, lot.qty, lot.kind, self.env.now)
            nxt.feed = Feed(units)
            dest = self.route(nxt)
            if not dest.offer(nxt):
                dest.hold(nxt, None)
            return nxt
        feed = nxt.feed
        assert feed is not None
        feed.arrived += units
        self._wake_feed(feed)
        return nxt

    def close_feed(self, lot: Lot, nxt: Lot, good: int, scrap: int, rework: int) -> None:
        """`lot` (which handed batches on as `nxt`) is done: book scrap and rework as
        `finish_lot` does; `nxt` now knows its quantity (every good unit has arrived)."""
        self._book_losses(lot, scrap, rework)
        feed = nxt.feed
        assert feed is not None
        nxt.qty = feed.arrived = max(good, feed.arrived)
        feed.closed = True
        self._wake_feed(feed)

    @staticmethod
    def _wake_feed(feed: Feed) -> None:
        ev, feed.event = feed.event, None
        if ev is not None:
            ev.succeed()

    def _spawn(self, os_: OrderState, op_index: int, qty: int, kind: str) -> None:
        lot = Lot(os_, op_index, qty, kind, self.env.now)
        self._enter_wip(os_, lot)
        dest = self.route(lot)
        if not dest.offer(lot):
            dest.hold(lot, None)

    def _cancel_plan(self, lot: Lot) -> None:
        """A main lot died (no good units left): its later planned operations will not come."""
        oid = lot.order.order.id
        for k in range(lot.op_index + 1, len(lot.order.info)):
            for s in lot.order.info[k].stations:
                st = self.stations[s]
                m = st.planned.pop((oid, k), None)
                if m is None:
                    continue
                m.seq = deque(x for x in m.seq if x.key != (oid, k))
                if m in st.idle:
                    st.idle.remove(m)
                    ev, m.wake = m.wake, None
                    ev.succeed(None)  # type: ignore[union-attr]

    def _complete(self, os_: OrderState) -> None:
        now = self.env.now
        os_.completion = now
        self._wip_step(-1)
        obs = self.observer
        if obs is not None:
            due = os_.order.due
            obs(
                {
                    "kind": "order_completed",
                    "time": now,
                    "order_id": os_.order.id,
                    "due": due if math.isfinite(due) else None,
                    "lateness": now - due if math.isfinite(due) else None,
                }
            )

    # ---- queries ----
    def counters(self) -> dict[str, dict[str, int]]:
        """Cumulative good/reject counts per station (from the live state's counters on)."""
        return {
            s: {"good": st.good + self.counter_offset[s][0], "reject": st.reject + self.counter_offset[s][1]}
            for s, st in self.stations.items()
        }

    def machine_state(self, machine_id: str) -> str:
        sid, _, k = machine_id.rpartition("/")
        return self.stations[sid].machines[int(k)].state

    def units_in_plant(self) -> dict[str, int]:
        """Units now in buffers (or waiting for release room), blocked upstream, and on machines."""
        out = {"queued": 0, "blocked": 0, "in_process": 0}
        for st in self.stations.values():
            # `units`: a lot moving in transfer batches counts where its units are
            out["queued"] += sum(lot.units for lot in st.queue) + sum(
                lot.units for lot in st.waiting.values()
            )
            for lot, ev, _ in st.blocked:
                out["queued" if ev is None else "blocked"] += lot.units
            out["in_process"] += sum(m.lot.units for m in st.machines if m.lot is not None)
        return out

    def wip_area(self, until: float) -> float:
        """Integral of the number of orders in the plant over [start, until]."""
        return self._wip_area + self.wip * (until - self._wip_t)

    def scale_processing(self, product: str, operation: str, factor: Callable[[float], float]) -> None:
        """Multiply the drawn processing times of one operation by `factor(env.now)` from now on
        (a floor whose cycle times drift; the twin's own runs never call this).

        Raises:
            KeyError: no such product or operation.
        """
        infos = {info.id: info for info in self._ops[product]}
        info = infos[operation]
        env = self.env

        def scaled(base: Callable[[], float]) -> Callable[[], float]:
            return lambda: base() * factor(env.now)

        info.samplers = {s: scaled(f) for s, f in info.samplers.items()}

    def run(self, until: float | None = None) -> None:
        """Run to `until`, or until no event is left (every order done or stuck)."""
        if until is None:
            self.env.run()
        else:
            self.env.run(until=until)

    def work_done_time(self) -> float:
        """When the last order of the run was completed; `env.now` while any is still open.

        A run without `until` ends when no event is left, which (failure and calendar processes
        run to the horizon) can be long after the work; KPIs per hour are measured to this instant.
        """
        done = [os_.completion for os_ in self.order_list if os_.completion != -math.inf]
        if not done or any(math.isnan(c) for c in done):
            return self.env.now
        return max(done)

    def result(self, until: float | None = None, *, replication: int | None = None, kpis=None):
        """The run so far as a `SimResult` (see sim.result.build_result); `kpis` a
        `twin.kpi.KpiRegistry` (default: `twin.kpi.KPIS`)."""
        from sim.result import build_result

        return build_result(self, self.env.now if until is None else until, replication, kpis)


__all__ = ["RULES", "PlantModel"]
