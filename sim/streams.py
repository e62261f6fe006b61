"""Random streams for common random numbers: one `random.Random` per purpose, named and seeded stably.

A stream's seed is a BLAKE2b digest of (seed, replication, name), never Python's
salted `hash()`, so the same arguments give the same numbers in every process and
on every run. Two variants of a plant run with the same seed draw their arrivals,
the processing times of each station, the failures of each machine and the scrap
of each operation from the same streams, so they stay synchronised as far as
their paths allow (common random numbers).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

from twin.distributions import Deterministic, Distribution, Exponential


def derive_seed(seed: int, replication: int, name: str) -> int:
    """A 64-bit seed from (seed, replication, stream name), the same in every process."""
    digest = hashlib.blake2b(f"{seed}|{replication}|{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def stream(seed: int, replication: int, name: str) -> random.Random:
    """The random stream `name` of replication `replication` of a run seeded `seed`."""
    return random.Random(derive_seed(seed, replication, name))


def sampler(dist: Distribution, rng: random.Random) -> Callable[[], float]:
    """A no-argument function drawing from `dist` with `rng` (fast paths for the common kinds).

    It draws exactly what `dist.sample(rng)` would.
    """
    if isinstance(dist, Deterministic):
        value = dist.value
        return lambda: value
    if isinstance(dist, Exponential):
        rate = 1.0 / dist.mean
        expo = rng.expovariate
        return lambda: expo(rate)
    sample = dist.sample
    return lambda: sample(rng)
