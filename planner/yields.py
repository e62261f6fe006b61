"""Yield in the plan: how many units to launch so an order completes in full, and what each operation sees.

The simulator scraps each unit with probability 1 - yield and, under
`scrap_policy: remake`, makes the shortfall again as a new lot from the first
operation; that remake lot runs after the main lot and is what made plans
optimistic. The planner therefore launches a *scrap allowance*: the smallest
launch quantity n with P(Binomial(n, p) >= quantity) >= `confidence`, where p is the
main lot's survival through the whole routing (the product of the operations'
yields: reworked units leave the main lot too). The simulator launches the first
operation's planned quantity and remakes only what the order still lacks, so with
the allowance a remake is the exception, not the rule. Under `short` nothing is
added (the order ships short, as the simulator does). Each planned lot holds the
*expected* number of units reaching its operation.
"""

from __future__ import annotations

import math

from twin.plant import Product

YIELD_CONFIDENCE = 0.95
"""Probability that the launched quantity yields the full order without a remake."""


def survival(product: Product, until: int | None = None) -> float:
    """Probability a unit of the main lot is still good after the first `until` operations (all: None)."""
    ops = product.routing if until is None else product.routing[:until]
    return math.prod(op.yield_ for op in ops)


def _binomial_tail(n: int, p: float, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (n up to tens of thousands)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        total += math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        )
    return min(total, 1.0)


def launch_quantity(
    product: Product, quantity: int, policy: str, confidence: float = YIELD_CONFIDENCE
) -> int:
    """Units to launch for `quantity` good ones: the scrap allowance under `remake`, none under `short`."""
    p = survival(product)
    if policy != "remake" or p >= 1.0:
        return quantity
    n = max(quantity, math.ceil(quantity / p))
    limit = 4 * math.ceil(quantity / p) + 20
    while n < limit and _binomial_tail(n, p, quantity) < confidence:
        n += 1
    return n


def planned_quantities(product: Product, launched: int) -> list[float]:
    """Expected units of the main lot at each operation (before that operation's scrap)."""
    return [launched * survival(product, k) for k in range(len(product.routing))]
