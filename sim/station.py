"""Stations and their machines: the input buffer, blocking, and the SimPy process of each machine.

A machine works a lot unit by unit (each unit's time, failures and scrap drawn
separately) and hands the good units on as one lot; the hot path (no calendar,
failures, setups, resources, material, scrap or observer) is one `env.timeout` per unit.
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import TYPE_CHECKING, Any

import simpy

from sim.lots import (
    ABORTED,
    BLOCKED,
    BUSY,
    CAUSE,
    EPS,
    EXECUTE,
    HELD,
    IDLE,
    INF,
    MAIN,
    MAINTENANCE,
    SETUP,
    STARVED,
    Feed,
    Lot,
    OpInfo,
)
from sim.streams import sampler, stream
from twin.plant import Station as StationSpec
from twin.schedule import ScheduledOperation

if TYPE_CHECKING:
    from sim.model import PlantModel


class Station:
    """A work unit: its machines, input buffer (planned and unplanned lots), blocked lots, idle machines."""

    def __init__(self, model: PlantModel, spec: StationSpec, off: list[tuple[float, float, str]]) -> None:
        self.model = model
        self.env = model.env
        self.spec = spec
        self.id = spec.id
        self.cap = spec.buffer
        self.qname = f"queue:{spec.id}"
        self.queue: list[Lot] = []  # unplanned lots, picked by the rule
        self.planned: dict[tuple[str, int], Machine] = {}  # key -> machine that plans it
        self.waiting: dict[tuple[str, int], Lot] = {}  # planned lots in the buffer
        self.blocked: deque[tuple[Lot, simpy.Event | None, float]] = deque()
        self.idle: list[Machine] = []
        self.busy = 0
        s = spec.setups
        self.has_setups = bool(s.default or s.initial or s.matrix)
        self.off = off
        self.off_starts = [a for a, _, _ in off]
        self.good = 0
        self.reject = 0
        self.rework = 0
        self.planned_time = 0.0
        self.machines = [Machine(model, self, k) for k in range(spec.machines)]

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

    def offer(self, lot: Lot) -> bool:
        """A lot arrives from upstream or from release: hand it to an idle machine that wants it,
        else put it in the buffer if there is room. False: no room (the caller holds it)."""
        if lot.allocated != lot.op_index:
            lot.allocated = lot.op_index
            consumes = lot.order.info[lot.op_index].consumes
            lot.kit = [(mat, q * lot.qty) for mat, q in consumes]
            for mat, need in lot.kit:
                mat.allocate(need)
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
            if self.planned and lot.kind is MAIN and lot.key in self.planned:
                self.waiting[lot.key] = lot
            else:
                self.queue.append(lot)
            return True
        return False

    def hold(self, lot: Lot, ev: simpy.Event | None) -> None:
        """A lot that found no room waits upstream (ev: the blocked machine) or in the release pool."""
        self.blocked.append((lot, ev, self.env.now))

    def _admit(self, lot: Lot, ev: simpy.Event | None, since: float) -> None:
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

    def take_for(self, m: Machine) -> tuple[Lot, ScheduledOperation | None] | None:
        """The next lot machine `m` should work: its planned next, else an unplanned one by the rule."""
        seq = m.seq
        if seq:
            key = seq[0].key
            lot = self.waiting.pop(key, None)
            if lot is not None:
                if self.blocked:
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
            if self.blocked:
                self._freed()
            return lot, None
        for i, (lot, ev, since) in enumerate(self.blocked):
            if lot.kind is not MAIN or lot.key not in self.planned:
                del self.blocked[i]
                lot.t_arrive = self.env.now
                self._admit(lot, ev, since)
                return lot, None
        return None


class Machine:
    """One machine of a station: a SimPy process working lots unit by unit."""

    def __init__(self, model: PlantModel, station: Station, index: int) -> None:
        self.model = model
        self.env = model.env
        self.station = station
        self.index = index
        self.id = f"{station.id}/{index}"
        self.state = IDLE
        self.since = self.env.now
        self.log: list[tuple[str, float, float]] = []  # (state, start, end)
        self.seq: deque[ScheduledOperation] = deque()
        self.wake: simpy.Event | None = None
        self.waiting: str | None = None
        self.family: str | None = None
        self.intr = 0.0  # interruption time inside the current lot
        self.lot: Lot | None = None
        spec = station.spec
        self.failures = spec.failures
        if self.failures is not None:
            rng = stream(model.seed, model.replication, f"fail:{self.id}")
            self.ttf_sample = sampler(self.failures.mtbf, rng)
            self.ttr_sample = sampler(self.failures.mttr, rng)
            self.ttf = self.ttf_sample()
        self.fast = self.failures is None and not station.off
        self.start: tuple[Lot, int] | None = None  # warm start: (lot, units done)
        self.down = False
        self.done = 0  # units of the current lot made so far (the floor's progress)
        self.hold: simpy.Event | None = None  # job control: paused until this event fires
        self.cut: str | None = None  # job control: "stop" or "abort" the current operation

    # ---- state log ----
    def set_state(self, state: str) -> None:
        if state is self.state:
            return
        now = self.env.now
        log = self.log
        if now > self.since:
            log.append((self.state, self.since, now))
            self.since = now
        elif log and log[-1][0] is state and log[-1][2] == now:
            self.since = log.pop()[1]
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

    def accepts(self, lot: Lot) -> bool:
        st = self.station
        if lot.kind is MAIN and lot.key in st.planned:
            return st.planned[lot.key] is self and bool(self.seq) and self.seq[0].key == lot.key
        return True

    # ---- working time ----
    def work(self, d: float, state: str, lot: Lot | None):
        """Spend `d` seconds of working time in `state`: pause over off periods, break down
        (failure clock runs only while busy) and repair, attributing interruptions to `lot`."""
        env = self.env
        st = self.station
        busy = state in BUSY
        fits = self.model.span_breaks or not busy
        while d > EPS:
            now = env.now
            if st.off:
                end, label, next_off = st.off_at(now)
                if label is not None:
                    self.set_state(label)
                    yield env.timeout(end - now)
                    self._interrupted(lot, CAUSE[label], end - now)
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

    def until_working(self, lot: Lot, need: float):
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

    def _interrupted(self, lot: Lot | None, cause: str, dt: float) -> None:
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
        fifo = model.rule == "FIFO"
        while True:
            if fifo and st.queue and not self.seq:  # take_for's common case, inlined
                got = (st.queue.pop(0), None)
                if st.blocked:
                    st._freed()
            else:
                got = st.take_for(self)
            if got is None:
                wait = STARVED if self.seq else IDLE
                self.waiting = wait
                self.set_state(st.waiting_label(wait) if st.off else wait)
                ev = self.wake = env.event()
                st.idle.append(self)
                lot = yield ev
                self.waiting = None
                if lot is None:
                    continue
                sop = (
                    self.seq.popleft() if st.planned and lot.kind is MAIN and lot.key in st.planned else None
                )
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
            if (
                not (simple and info.simple)
                or lot.feed is not None
                or (sop is not None and sop.transfer_batch)
            ):
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
            dest = info.next_station
            if dest is not None:  # the common case of model.finish_lot, inlined
                lot.op_index += 1
            else:
                dest = model.finish_lot(lot, qty, 0, 0)
            if dest is not None and not dest.offer(lot):
                yield from self.hand_on(lot, dest)

    def process(self, lot: Lot, sop: ScheduledOperation | None, done: int):
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
        if lot.kit:  # the lot's material, allocated on arrival, taken as one kit
            t0 = env.now
            for mat, need in lot.kit:
                ev = mat.take(need)
                if ev is not None:
                    self.set_state(STARVED)
                    yield ev
            lot.kit = []
            if env.now > t0:
                delay["material"] = delay.get("material", 0.0) + env.now - t0
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
        good, scrap, rework = done, 0, 0  # units made before a warm start count as good
        fast = self.fast
        self.done = done
        # transfer batches: the plan's for this lot, else the routing step's (none at the last
        # operation, nor for a lot resumed in a warm start: the floor's progress says nothing of it)
        tb = sop.transfer_batch if sop is not None and sop.transfer_batch else info.transfer
        streams = tb is not None and done == 0 and lot.op_index + 1 < len(order.info) and tb < lot.qty
        nxt: Lot | None = None
        sent = 0
        feed = lot.feed
        i = 0
        while True:
            if feed is not None and not feed.closed and feed.arrived <= done + i:
                yield from self._await_batch(feed)
                continue
            if done + i >= lot.qty:
                break
            if self.hold is not None or self.cut is not None:
                yield from self._held(lot)
                if self.cut is not None:
                    break
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
                if streams and good - sent >= tb:  # a full transfer batch moves on
                    nxt = model.send_batch(lot, nxt, good - sent)
                    sent = lot.sent = good
            i += 1
            self.done += 1
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
        if self.cut is not None:
            if self.cut == "abort":  # an aborted operation hands nothing on
                good = scrap = rework = 0
            self.cut = None
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
        if nxt is not None:  # the lot moved on in batches: the rest follows now, nothing blocks
            model.close_feed(lot, nxt, good, scrap, rework)
            return
        dest = model.finish_lot(lot, good, scrap, rework)
        if dest is not None and not dest.offer(lot):
            yield from self.hand_on(lot, dest)

    def _await_batch(self, feed: Feed):
        """Wait (`Starved`) for the next transfer batch of the lot in work. Not a delay of the
        order: its time is being spent at the previous operation meanwhile."""
        t0 = self.env.now
        self.set_state(STARVED)
        ev = feed.event = self.env.event()
        yield ev
        self.intr += self.env.now - t0
        self.set_state(EXECUTE)

    def _held(self, lot: Lot):
        """Job control between two units: wait while paused (Held); a stop or abort ends the wait."""
        while self.hold is not None and self.cut is None:
            t0 = self.env.now
            self.set_state(HELD)
            yield self.hold
            self._interrupted(lot, "held", self.env.now - t0)
        if self.cut is None:
            self.set_state(EXECUTE)

    def hand_on(self, lot: Lot, dest: Station):
        """Blocking after service: hold the lot (Blocked) until `dest` has room for it."""
        self.set_waiting(BLOCKED)
        ev = self.env.event()
        dest.hold(lot, ev)
        t0 = self.env.now
        yield ev
        self.waiting = None
        delay = lot.order.delay
        delay["blocked"] = delay.get("blocked", 0.0) + self.env.now - t0

    def _rec(self, kind: str, lot: Lot, info: OpInfo, **extra: Any) -> dict[str, Any]:
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
