"""Parameter drift of a floor: a processing time that grows (or shrinks) linearly with plant time.

Written `PRODUCT.OPERATION=RATE`, RATE a percentage per day with an optional sign, e.g.
`PUMP-S.mill=+2%/day` (the unit may be left out: `PUMP-S.mill=2%`). At plant time t the
operation's drawn time is multiplied by `1 + rate * t / 1 day` (t from the plant epoch, so a
restarted floor drifts on from where it was), never below 10 % of the nominal time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twin.errors import InputError, Issue
from twin.plant import Plant

DAY = 86400.0
_SPEC = re.compile(r"^\s*([^=\s]+)\.([^.=\s]+)\s*=\s*([+-]?\d+(?:\.\d+)?)\s*%\s*(?:/\s*d(?:ay)?)?\s*$")


@dataclass(frozen=True)
class Drift:
    """A linear drift of one operation's processing time, `rate` a fraction per day."""

    product: str
    operation: str
    rate: float

    def factor(self, t: float) -> float:
        """The multiplier of drawn times at plant time `t`."""
        return max(0.1, 1.0 + self.rate * t / DAY)


def parse_drift(text: str, plant: Plant, option: str = "--drift") -> Drift:
    """A drift from `PRODUCT.OPERATION=RATE%/day`, checked against the plant.

    Raises:
        InputError: bad syntax, or a product or operation the plant does not have.
    """
    m = _SPEC.match(text)
    if m is None:
        raise InputError(
            Issue(f"expected PRODUCT.OPERATION=RATE%/day (e.g. PUMP-S.mill=+2%/day), got {text!r}", option)
        )
    product, operation, pct = m.group(1), m.group(2), float(m.group(3))
    prod = plant.product_map.get(product)
    if prod is None:
        raise InputError(Issue(f"no product {product!r} in plant {plant.name} (in {text!r})", option))
    if operation not in {op.id for op in prod.routing}:
        ops = ", ".join(op.id for op in prod.routing)
        raise InputError(Issue(f"product {product} has no operation {operation!r} (it has {ops})", option))
    if abs(pct) > 100:
        raise InputError(Issue(f"a drift of {pct:g} %/day is outside -100..100 (in {text!r})", option))
    return Drift(product, operation, pct / 100.0)
