"""The SimPy model of a plant: orders become lots that flow through stations of parallel machines.

A lot is one order's quantity at one operation; a machine works it unit by unit
(each unit's time, failures and scrap are drawn separately) and hands the good
units on as one lot. Every machine is one SimPy process; stations hold the input
buffer, the lots blocked upstream and the idle machines. Work follows a plan
(each machine's sequence of `ScheduledOperation`s) where there is one, and a
dispatch rule otherwise. See docs/simulator.md for the behaviour in prose.

The hot path (a unit on a machine without calendar, maintenance or failures) is a
single `env.timeout`; the log is kept in plain lists and turned into DataFrames
only by `PlantModel.result`.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import simpy

from sim.streams import derive_seed, sampler, stream
from twin.live import LiveState
from twin.orders import Order
from twin.plant import Plant, Station
from twin.schedule import Schedule, ScheduledOperation
from twin.states import MachineState
from twin.timeutil import parse_time

INF = math.inf
EXECUTE = MachineState.EXECUTE.value
SETUP = MachineState.SETUP.value
IDLE = MachineState.IDLE.value
STARVED = MachineState.STARVED.value
BLOCKED = MachineState.BLOCKED.value
HELD = MachineState.HELD.value
ABORTED = MachineState.ABORTED.value
MAINTENANCE = MachineState.MAINTENANCE.value
STOPPED = MachineState.STOPPED.value
_BUSY = (EXECUTE, SETUP)
_CAUSE = {STOPPED: "off-shift", MAINTENANCE: "maintenance", ABORTED: "breakdown"}
RULES = ("FIFO", "EDD", "SPT", "CR")
MAIN, REMAKE, REWORK = "main", "remake", "rework"
_EPS = 1e-9

Observer = Callable[[dict[str, Any]], None]


class _OrderState:
    """One order during the run: what is still open and where its time went."""

    __slots__ = ("completion", "delay", "family", "good", "info", "open_lots", "order", "scrapped")

    def __init__(self, order: Order, info: list[_OpInfo], family: str) -> None:
        self.order = order
        self.info = info
        self.family = family
        self.good = 0
        self.scrapped = 0
        self.open_lots = 0
        self.completion = math.nan
        self.delay: dict[str, float] = {}


class _Lot:
    """Units of one order travelling together, now at routing position `op_index`."""

    __slots__ = ("kind", "op_index", "order", "qty", "t_arrive")

    def __init__(self, order: _OrderState, op_index: int, qty: int, kind: str, t: float) -> None:
        self.order = order
        self.op_index = op_index
        self.qty = qty
        self.kind = kind
        self.t_arrive = t

    @property
    def key(self) -> tuple[str, int]:
        return (self.order.order.id, self.op_index)


class _OpInfo:
    """An operation of a product, compiled for the run: samplers, scrap stream, needs."""

    __slots__ = (
        "batch",
        "consumes",
        "id",
        "index",
        "mean",
        "resources",
        "rework_share",
        "rework_to",
        "samplers",
        "scrap_rng",
        "simple",
        "stations",
        "yield_",
    )


class _Pool:
    """A secondary resource (operators, tools): a counter with a FIFO of waiting requests."""

    __slots__ = ("env", "free", "id", "waiting")

    def __init__(self, env: simpy.Environment, pool_id: str, capacity: int) -> None:
        self.env = env
        self.id = pool_id
        self.free = capacity
        self.waiting: deque[tuple[int, simpy.Event]] = deque()

    def acquire(self, n: int) -> simpy.Event | None:
        if not self.waiting and self.free >= n:
            self.free -= n
            return None
        ev = self.env.event()
        self.waiting.append((n, ev))
        return ev

    def release(self, n: int) -> None:
        self.free += n
        while self.waiting and self.waiting[0][0] <= self.free:
            need, ev = self.waiting.popleft()
            self.free -= need
            ev.succeed()


class _Material:
    """A component's stock: consumption waits (FIFO) when short; deliveries and reorders refill it."""

    __slots__ = ("env", "id", "model", "ordered", "replenish", "stock", "waiting")

    def __init__(self, model: PlantModel, material_id: str, stock: float, replenish: Any) -> None:
        self.model = model
        self.env = model.env
        self.id = material_id
        self.stock = stock
        self.replenish = replenish
        self.ordered = False
        self.waiting: deque[tuple[float, simpy.Event]] = deque()

    def consume(self, qty: float) -> simpy.Event | None:
        if not self.waiting and self.stock >= qty - _EPS:
            self.stock -= qty
            self._changed()
            return None
        ev = self.env.event()
        self.waiting.append((qty, ev))
        self._reorder()
        return ev

    def add(self, qty: float) -> None:
        self.stock += qty
        while self.waiting and self.waiting[0][0] <= self.stock + _EPS:
            need, ev = self.waiting.popleft()
            self.stock -= need
            ev.succeed()
        self._changed()

    def _changed(self) -> None:
        obs = self.model.observer
        if obs is not None:
            obs({"kind": "material", "time": self.env.now, "material": self.id, "stock": self.stock})
        self._reorder()

    def _reorder(self) -> None:
        rep = self.replenish
        if rep is not None and not self.ordered and self.stock <= rep.reorder_point:
            self.ordered = True
            self.env.process(self._deliver_later(rep.lead_time, rep.quantity))

    def _deliver_later(self, delay: float, qty: float):
        yield self.env.timeout(delay)
        self.ordered = False
        self.add(qty)


class _Station:
    """A work unit: its machines, input buffer (planned and unplanned lots), blocked lots, idle machines."""

    def __init__(self, model: PlantModel, spec: Station, off: list[tuple[float, float, str]]) -> None:
        self.model = model
        self.env = model.env
        self.spec = spec
        self.id = spec.id
        self.cap = spec.buffer
        self.qname = f"queue:{spec.id}"
        self.queue: list[_Lot] = []  # unplanned lots, picked by the rule
        self.planned: dict[tuple[str, int], _Machine] = {}  # key -> machine that plans it
        self.waiting: dict[tuple[str, int], _Lot] = {}  # planned lots in the buffer
        self.blocked: deque[tuple[_Lot, simpy.Event | None, float]] = deque()
        self.idle: list[_Machine] = []
        self.busy = 0
        s = spec.setups
        self.has_setups = bool(s.default or s.initial or s.matrix)
        self.off = off
        self.off_starts = [a for a, _, _ in off]
        self.good = 0
        self.reject = 0
        self.rework = 0
        self.planned_time = 0.0
        self.machines = [_Machine(model, self, k) for k in range(spec.machines)]

    # ---- calendar ----
    def off_at(self, t: float) -> tuple[float, str | None, float]:
        """(end of the off period containing t or t, its label or None, start of the next off period)."""
        i = bisect.bisect_right(self.off_starts, t) - 1
        off = self.off
        if i >= 0 and t < off[i][1]:
            return off[i][1], off[i][2], INF
        return t, None, off[i + 1][0] if i + 1 < len(off) else INF

    def calendar(self):
        """Flip waiting machines to Stopped/Maintenance over off periods (busy ones do it in `work`)."""
        env = self.env
        for a, b, label in self.off:
            if b <= env.now:
                continue
            if a > env.now:
                yield env.timeout(a - env.now)
            for m in self.machines:
                if m.waiting is not None:
                    m.set_state(label)
            yield env.timeout(b - env.now)
            for m in self.machines:
                if m.waiting is not None:
                    m.set_state(self.waiting_label(m.waiting))

    def waiting_label(self, state: str) -> str:
        if not self.off:
            return state
        _, label, _ = self.off_at(self.env.now)
        return label or state

    # ---- buffer ----
    @property
    def n_waiting(self) -> int:
        return len(self.queue) + len(self.waiting)

    def load(self) -> float:
        return (self.n_waiting + self.busy + len(self.blocked)) / len(self.machines)

    def offer(self, lot: _Lot) -> bool:
        """A lot arrives from upstream or from release: hand it to an idle machine that wants it,
        else put it in the buffer if there is room. False: no room (the caller holds it)."""
        if self.idle and not self.planned:
            m = self.idle.pop(0)
            lot.t_arrive = self.env.now
            ev = m.wake
            m.wake = None
            ev.succeed(lot)  # type: ignore[union-attr]
            return True
        for i, m in enumerate(self.idle):
            if m.accepts(lot):
                del self.idle[i]
                lot.t_arrive = self.env.now
                ev = m.wake
                m.wake = None
                ev.succeed(lot)  # type: ignore[union-attr]
                return True
        if self.cap is None or len(self.queue) + len(self.waiting) < self.cap:
            lot.t_arrive = self.env.now
            if lot.kind is MAIN and lot.key in self.planned:
                self.waiting[lot.key] = lot
            else:
                self.queue.append(lot)
            return True
        return False

    def hold(self, lot: _Lot, ev: simpy.Event | None) -> None:
        """A lot that found no room waits upstream (ev: the blocked machine) or in the release pool."""
        self.blocked.append((lot, ev, self.env.now))

    def _admit(self, lot: _Lot, ev: simpy.Event | None, since: float) -> None:
        if ev is None:
            d = lot.order.delay
            d[self.qname] = d.get(self.qname, 0.0) + self.env.now - since
        else:
            ev.succeed()

    def _freed(self) -> None:
        """A buffer place opened: let the first blocked lot in."""
        while self.blocked:
            lot, ev, since = self.blocked[0]
            if not self.offer(lot):
                return
            self.blocked.popleft()
            self._admit(lot, ev, since)

    def take_for(self, m: _Machine) -> tuple[_Lot, ScheduledOperation | None] | None:
        """The next lot machine `m` should work: its planned next, else an unplanned one by the rule."""
        seq = m.seq
        if seq:
            key = seq[0].key
            lot = self.waiting.pop(key, None)
            if lot is not None:
                self._freed()
                return lot, seq.popleft()
            for i, (lot, ev, since) in enumerate(self.blocked):
                if lot.kind is MAIN and lot.key == key:
                    del self.blocked[i]
                    lot.t_arrive = self.env.now
                    self._admit(lot, ev, since)
                    return lot, seq.popleft()
        if self.queue:
            q = self.queue
            lot = q.pop(0) if self.model.rule == "FIFO" or len(q) == 1 else q.pop(self.model.pick(q, self.id))
            self._freed()
            return lot, None
        for i, (lot, ev, since) in enumerate(self.blocked):
            if lot.kind is not MAIN or lot.key not in self.planned:
                del self.blocked[i]
                lot.t_arrive = self.env.now
                self._admit(lot, ev, since)
                return lot, None
        return None


class _Machine:
    """One machine of a station: a SimPy process working lots unit by unit."""

    def __init__(self, model: PlantModel, station: _Station, index: int) -> None:
        self.model = model
        self.env = model.env
        self.station = station
        self.index = index
        self.id = f"{station.id}/{index}"
        self.state = IDLE
        self.since = self.env.now
        self.log: list[tuple[str, int, str, float, float]] = []
        self.seq: deque[ScheduledOperation] = deque()
        self.wake: simpy.Event | None = None
        self.waiting: str | None = None
        self.family: str | None = None
        self.intr = 0.0  # interruption time inside the current lot
        self.lot: _Lot | None = None
        spec = station.spec
        self.failures = spec.failures
        if self.failures is not None:
            rng = stream(model.seed, model.replication, f"fail:{self.id}")
            self.ttf_sample = sampler(self.failures.mtbf, rng)
            self.ttr_sample = sampler(self.failures.mttr, rng)
            self.ttf = self.ttf_sample()
        self.fast = self.failures is None and not station.off
        self.start: tuple[_Lot, int] | None = None  # warm start: (lot, units done)
        self.down = False

    # ---- state log ----
    def set_state(self, state: str) -> None:
        if state is self.state:
            return
        now = self.env.now
        log = self.log
        if now > self.since:
            log.append((self.station.id, self.index, self.state, self.since, now))
            self.since = now
        elif log and log[-1][2] is state and log[-1][4] == now:
            self.since = log.pop()[3]
        obs = self.model.observer
        if obs is not None:
            obs(
                {
                    "kind": "state",
                    "time": now,
                    "station": self.station.id,
                    "machine": self.index,
                    "machine_id": self.id,
                    "state": state,
                    "previous": self.state,
                }
            )
        self.state = state

    def set_waiting(self, state: str) -> None:
        self.waiting = state
        self.set_state(self.station.waiting_label(state))

    def accepts(self, lot: _Lot) -> bool:
        st = self.station
        if lot.kind is MAIN and lot.key in st.planned:
            return st.planned[lot.key] is self and bool(self.seq) and self.seq[0].key == lot.key
        return True

    # ---- working time ----
    def work(self, d: float, state: str, lot: _Lot | None):
        """Spend `d` seconds of working time in `state`: pause over off periods, break down
        (failure clock runs only while busy) and repair, attributing interruptions to `lot`."""
        env = self.env
        st = self.station
        busy = state in _BUSY
        fits = self.model.span_breaks or not busy
        while d > _EPS:
            now = env.now
            if st.off:
                end, label, next_off = st.off_at(now)
                if label is not None:
                    self.set_state(label)
                    yield env.timeout(end - now)
                    self._interrupted(lot, _CAUSE[label], end - now)
                    continue
                if not fits and next_off - now < d:
                    fits = True  # the rest must fit one working interval: wait for one that is long enough
                    nxt = self._next_fitting(now, d)
                    if nxt > now:
                        self.set_state(IDLE)
                        yield env.timeout(nxt - now)
                        self._interrupted(lot, "off-shift", nxt - now)
                        continue
                seg = min(d, next_off - now)
            else:
                seg = d
            fail = False
            if busy and self.failures is not None and self.ttf <= seg:
                seg, fail = self.ttf, True
            self.set_state(state)
            if seg > 0:
                yield env.timeout(seg)
            d -= seg
            fits = True
            if busy and self.failures is not None:
                self.ttf -= seg
            if fail:
                t0 = env.now
                yield from self.work(self.ttr_sample(), ABORTED, None)
                self._interrupted(lot, "breakdown", env.now - t0)
                self.ttf = self.ttf_sample()

    def until_working(self, lot: _Lot, need: float):
        """Before an operation starts: wait out an off period and, when operations may not span
        breaks, until a working interval long enough for the first `need` seconds."""
        env = self.env
        st = self.station
        delay = lot.order.delay
        while True:
            now = env.now
            end, label, next_off = st.off_at(now)
            if label is None and (self.model.span_breaks or next_off - now >= need):
                return
            if label is None:
                end = self._next_fitting(now, need)
                if end <= now:
                    return
                label = IDLE
            self.set_waiting(label)
            yield env.timeout(end - now)
            self.waiting = None
            cause = "maintenance" if label == MAINTENANCE else "off-shift"
            delay[cause] = delay.get(cause, 0.0) + end - now

    def _next_fitting(self, now: float, d: float) -> float:
        """Start of the first working interval (from now) at least `d` long (past the last off
        period if none is)."""
        off = self.station.off
        i = bisect.bisect_right(self.station.off_starts, now)
        start = now
        while i < len(off):
            if off[i][0] - start >= d:
                return start
            start = off[i][1]
            i += 1
        return start

    def _interrupted(self, lot: _Lot | None, cause: str, dt: float) -> None:
        if lot is not None and dt > 0:
            d = lot.order.delay
            d[cause] = d.get(cause, 0.0) + dt
            self.intr += dt

    # ---- the process ----
    def run(self):
        env = self.env
        st = self.station
        model = self.model
        if self.down:
            self.set_state(ABORTED)
            yield from self.work(self.ttr_sample() if self.failures is not None else 0.0, ABORTED, None)
        if self.start is not None:
            lot, done = self.start
            st.busy += 1
            yield from self.process(lot, None, done)
        simple = self.fast and not st.has_setups and model.observer is None
        timeout = env.timeout
        qname, sid, index = st.qname, st.id, self.index
        op_rows = model.op_rows
        while True:
            got = st.take_for(self)
            if got is None:
                self.set_waiting(STARVED if self.seq else IDLE)
                ev = self.wake = env.event()
                st.idle.append(self)
                lot = yield ev
                self.waiting = None
                if lot is None:
                    continue
                sop = self.seq.popleft() if lot.kind is MAIN and lot.key in st.planned else None
            else:
                lot, sop = got
            st.busy += 1
            self.lot = lot
            if sop is not None:
                del st.planned[sop.key]
                if sop.start > env.now:
                    self.set_waiting(IDLE)
                    yield env.timeout(sop.start - env.now)
                    self.waiting = None
            info = lot.order.info[lot.op_index]
            if not (simple and info.simple):
                yield from self.process(lot, sop, 0)
                continue
            # The hot path: no calendar, failures, setups, resources, material, scrap or observer.
            order = lot.order
            delay = order.delay
            now = env.now
            delay[qname] = delay.get(qname, 0.0) + (now - lot.t_arrive)
            if self.state is not EXECUTE:
                self.set_state(EXECUTE)
            sample = info.samplers[sid]
            qty = lot.qty
            for _ in range(qty):
                yield timeout(sample())
            t_end = env.now
            st.good += qty
            st.planned_time += info.mean * qty
            op_rows.append((order.order.id, lot.op_index, info.id, sid, index, now, t_end, 0.0, qty, qty, 0))
            delay["processing"] = delay.get("processing", 0.0) + (t_end - now)
            st.busy -= 1
            self.lot = None
            dest = model.finish_lot(lot, qty, 0, 0)
            if dest is not None and not dest.offer(lot):
                yield from self.hand_on(lot, dest)

    def process(self, lot: _Lot, sop: ScheduledOperation | None, done: int):
        """Work a lot (from unit `done` on), then hand its good units on (blocking if there is no room)."""
        env = self.env
        st = self.station
        model = self.model
        obs = model.observer
        order = lot.order
        info = order.info[lot.op_index]
        delay = order.delay
        now = env.now
        delay[st.qname] = delay.get(st.qname, 0.0) + (now - lot.t_arrive)
        self.lot = lot
        self.intr = 0.0
        if info.resources:
            for pool, n in info.resources:
                ev = pool.acquire(n)
                if ev is not None:
                    self.set_state(HELD)
                    yield ev
            if env.now > now:
                delay["resource"] = delay.get("resource", 0.0) + env.now - now
        setup = 0.0
        if done == 0 and st.has_setups:
            setup = st.spec.setups.time(self.family, order.family)
        sample = info.samplers[st.id]
        first = sample() if done < lot.qty else 0.0
        if st.off:
            need = setup or (info.batch if done == 0 else 0.0) or first
            yield from self.until_working(lot, need)
        t_start = env.now
        if obs is not None:
            obs(self._rec("operation_start", lot, info, quantity=lot.qty, setup=setup))
        if setup > 0:
            if self.fast:
                self.set_state(SETUP)
                yield env.timeout(setup)
            else:
                yield from self.work(setup, SETUP, lot)
            delay["setup"] = delay.get("setup", 0.0) + setup
        self.family = order.family
        if info.batch > 0 and done == 0:
            if self.fast:
                self.set_state(EXECUTE)
                yield env.timeout(info.batch)
            else:
                yield from self.work(info.batch, EXECUTE, lot)
            st.planned_time += info.batch
        self.set_state(EXECUTE)
        yld = info.yield_
        scrap_rng = info.scrap_rng
        consumes = info.consumes
        good = scrap = rework = 0
        fast = self.fast
        for i in range(lot.qty - done):
            if consumes:
                for mat, q in consumes:
                    ev = mat.consume(q)
                    if ev is not None:
                        t0 = env.now
                        self.set_state(STARVED)
                        yield ev
                        self._interrupted(lot, "material", env.now - t0)
                        self.set_state(EXECUTE)
            t = first if i == 0 else sample()
            if fast:
                yield env.timeout(t)
            else:
                t0 = env.now
                yield from self.work(t, EXECUTE, lot)
                t = env.now - t0
            outcome = 0  # 0 good, 1 scrap, 2 rework
            if yld < 1.0 and scrap_rng.random() >= yld:
                st.reject += 1
                if info.rework_to is not None and scrap_rng.random() < info.rework_share:
                    rework += 1
                    st.rework += 1
                    outcome = 2
                else:
                    scrap += 1
                    outcome = 1
            else:
                good += 1
                st.good += 1
            st.planned_time += info.mean
            if obs is not None:
                off = model.counter_offset[st.id]
                obs(
                    self._rec(
                        "unit",
                        lot,
                        info,
                        good=int(outcome == 0),
                        scrap=int(outcome == 1),
                        rework=int(outcome == 2),
                        cycle_time=t,
                        good_count=st.good + off[0],
                        reject_count=st.reject + off[1],
                    )
                )
        t_end = env.now
        for pool, n in info.resources:
            pool.release(n)
        bad = scrap + rework
        model.op_rows.append(
            (
                order.order.id,
                lot.op_index,
                info.id,
                st.id,
                self.index,
                t_start,
                t_end,
                setup,
                lot.qty,
                good,
                bad,
            )
        )
        proc = t_end - t_start - setup - self.intr
        delay["processing"] = delay.get("processing", 0.0) + proc
        self.lot = None
        if obs is not None:
            obs(
                self._rec(
                    "operation_end",
                    lot,
                    info,
                    start=t_start,
                    quantity=lot.qty,
                    good=good,
                    scrap=scrap,
                    rework=rework,
                )
            )
        st.busy -= 1
        dest = model.finish_lot(lot, good, scrap, rework)
        if dest is not None and not dest.offer(lot):
            yield from self.hand_on(lot, dest)

    def hand_on(self, lot: _Lot, dest: _Station):
        """Blocking after service: hold the lot (Blocked) until `dest` has room for it."""
        self.set_waiting(BLOCKED)
        ev = self.env.event()
        dest.hold(lot, ev)
        t0 = self.env.now
        yield ev
        self.waiting = None
        delay = lot.order.delay
        delay["blocked"] = delay.get("blocked", 0.0) + self.env.now - t0

    def _rec(self, kind: str, lot: _Lot, info: _OpInfo, **extra: Any) -> dict[str, Any]:
        rec = {
            "kind": kind,
            "time": self.env.now,
            "station": self.station.id,
            "machine": self.index,
            "machine_id": self.id,
            "order_id": lot.order.order.id,
            "op_index": lot.op_index,
            "operation": info.id,
        }
        rec.update(extra)
        return rec


def off_periods(
    plant: Plant, station: Station, start: float, horizon: float
) -> list[tuple[float, float, str]]:
    """Sorted, disjoint (start, end, state) periods in which a station does not work.

    Off shift (outside the calendar's working intervals) is Stopped; planned
    maintenance over working time is Maintenance. Past the horizon it works.
    """
    bounds: list[tuple[float, float, str]] = []
    if plant.calendar_name(station.id) is not None:
        wt = plant.working_time(station.id, horizon)
        t = start
        for a, b in wt.intervals:
            if b <= t:
                continue
            if a > t:
                bounds.append((t, a, STOPPED))
            t = max(t, b)
        if t < horizon:
            bounds.append((t, horizon, STOPPED))
    windows: list[tuple[float, float]] = []
    for m in station.maintenance:
        t0 = parse_time(m.start, plant.epoch)
        t_end = parse_time(m.until, plant.epoch) if m.until is not None else horizon
        t = t0
        while t < min(t_end, horizon):
            if t + m.duration > start:
                windows.append((max(t, start), t + m.duration))
            if m.every is None:
                break
            t += m.every
    if not windows:
        return bounds
    # Maintenance is Maintenance where the calendar would have worked, Stopped elsewhere.
    cuts = sorted({start, *(x for a, b, _ in bounds for x in (a, b)), *(x for w in windows for x in w)})
    out: list[tuple[float, float, str]] = []
    for a, b in itertools.pairwise(cuts):
        mid = (a + b) / 2
        label = None
        if any(s <= mid < e for s, e, _ in bounds):
            label = STOPPED
        elif any(s <= mid < e for s, e in windows):
            label = MAINTENANCE
        if label is None:
            continue
        if out and out[-1][2] == label and out[-1][1] == a:
            out[-1] = (out[-1][0], b, label)
        else:
            out.append((a, b, label))
    return out


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
        self.orders: dict[str, _OrderState] = {}
        self.order_list: list[_OrderState] = []
        self.wip = 0
        self._wip_area = 0.0
        self._wip_t = self.start
        self.pools = {r.id: _Pool(self.env, r.id, r.capacity) for r in plant.resources}
        self.materials = {m.id: _Material(self, m.id, m.stock, m.replenishment) for m in plant.materials}
        self.stations: dict[str, _Station] = {
            s.id: _Station(self, s, off_periods(plant, s, self.start, self.horizon)) for s in plant.stations
        }
        self.counter_offset = {s: (0, 0) for s in self.stations}
        self._ops = self._compile_routings()
        self._mean_work: dict[tuple[str, int], float] = {}
        if live is not None:
            self._apply_live_stock(live)
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
    def _compile_routings(self) -> dict[str, list[_OpInfo]]:
        out: dict[str, list[_OpInfo]] = {}
        station_rng = {s: stream(self.seed, self.replication, f"proc:{s}") for s in self.stations}
        for product in self.plant.products:
            ids = [op.id for op in product.routing]
            infos = []
            for k, op in enumerate(product.routing):
                info = _OpInfo()
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
                info.simple = not (info.resources or info.consumes or info.batch or info.yield_ < 1.0)
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

    def _delivery(self, material: _Material, at: float, qty: float):
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
        env = self.env
        completed = live.completed if live is not None else frozenset()
        progress = {(p.order_id, p.op_index): p for p in live.in_progress} if live is not None else {}
        new: list[_OrderState] = []
        for order in orders:
            if order.id in self.orders:
                continue
            product = self.plant.product_map[order.product]
            os_ = _OrderState(order, self._ops[order.product], product.setup_family)
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
        for os_ in new:
            self._release(os_, completed, progress, live)
        del env

    def _release(
        self,
        os_: _OrderState,
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
        lot = _Lot(os_, k, os_.order.quantity, MAIN, max(now, os_.order.release))
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

    def _admit_new(self, lot: _Lot) -> None:
        self._enter_wip(lot.order, lot)
        dest = self.route(lot)
        if not dest.offer(lot):
            dest.hold(lot, None)

    def _enter_wip(self, os_: _OrderState, lot: _Lot) -> None:
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
    def route(self, lot: _Lot) -> _Station:
        """The station a lot goes to for its current operation: the planned one, the only eligible
        one, or the least loaded (work per machine) of the eligible ones."""
        info = lot.order.info[lot.op_index]
        if len(info.stations) == 1:
            return self.stations[info.stations[0]]
        for s in info.stations:
            if lot.kind is MAIN and lot.key in self.stations[s].planned:
                return self.stations[s]
        return min((self.stations[s] for s in info.stations), key=_Station.load)

    def pick(self, queue: list[_Lot], station: str) -> int:
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
    def _lot_work(lot: _Lot) -> float:
        info = lot.order.info[lot.op_index]
        return info.batch + lot.qty * info.mean

    def _remaining_work(self, lot: _Lot) -> float:
        infos = lot.order.info
        return sum(infos[k].batch + lot.qty * infos[k].mean for k in range(lot.op_index, len(infos)))

    # ---- lots finishing ----
    def finish_lot(self, lot: _Lot, good: int, scrap: int, rework: int) -> _Station | None:
        """Book a lot's result at its operation; spawn re-make and rework lots. Returns the station
        its good units go to next, None if the lot ends here."""
        os_ = lot.order
        info = os_.info[lot.op_index]
        if rework:
            self._spawn(os_, info.rework_to, rework, REWORK)  # type: ignore[arg-type]
        if scrap:
            os_.scrapped += scrap
            if self.remake:
                self._spawn(os_, 0, scrap, REMAKE)
        if good and lot.op_index + 1 < len(os_.info):
            lot.qty = good
            lot.op_index += 1
            nxt = os_.info[lot.op_index].stations
            return self.stations[nxt[0]] if len(nxt) == 1 else self.route(lot)
        os_.good += good
        if lot.kind is MAIN and good == 0:
            self._cancel_plan(lot)
        os_.open_lots -= 1
        if os_.open_lots == 0:
            self._complete(os_)
        return None

    def _spawn(self, os_: _OrderState, op_index: int, qty: int, kind: str) -> None:
        lot = _Lot(os_, op_index, qty, kind, self.env.now)
        self._enter_wip(os_, lot)
        dest = self.route(lot)
        if not dest.offer(lot):
            dest.hold(lot, None)

    def _cancel_plan(self, lot: _Lot) -> None:
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

    def _complete(self, os_: _OrderState) -> None:
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
            out["queued"] += sum(lot.qty for lot in st.queue) + sum(lot.qty for lot in st.waiting.values())
            for lot, ev, _ in st.blocked:
                out["queued" if ev is None else "blocked"] += lot.qty
            out["in_process"] += sum(m.lot.qty for m in st.machines if m.lot is not None)
        return out

    def wip_area(self, until: float) -> float:
        """Integral of the number of orders in the plant over [start, until]."""
        return self._wip_area + self.wip * (until - self._wip_t)

    def run(self, until: float | None = None) -> None:
        """Run to `until`, or until no event is left (every order done or stuck)."""
        if until is None:
            self.env.run()
        else:
            self.env.run(until=until)

    def result(self, until: float | None = None, *, replication: int | None = None):
        """The run so far as a `SimResult` (see sim.result.build_result)."""
        from sim.result import build_result

        return build_result(self, self.env.now if until is None else until, replication)


__all__ = ["RULES", "PlantModel", "derive_seed", "off_periods"]
