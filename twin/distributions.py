"""Random durations: one interface (mean, sample with an explicit RNG) for every kind.

In YAML a distribution is written short: a number or duration string is
deterministic; otherwise a one-key mapping names the kind::

    time: 45s                                   # deterministic
    time: {exponential: 5m}                     # mean
    time: {triangular: [40s, 45s, 70s]}         # low, mode, high
    time: {lognormal: {mean: 20m, cv: 0.5}}     # mean and coefficient of variation
    time: {normal: {mean: 60, sd: 5}}           # truncated at 0 (resampled)
    time: {empirical: [41, 43, 44, 52]}         # samples drawn with replacement
"""

from __future__ import annotations

import math
import random
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from twin.bounds import MAX_CV, MAX_DURATION, MAX_SAMPLES, out_of_range, years
from twin.timeutil import parse_duration


def check_duration(value: Any) -> float:
    """Seconds from a duration as written, at most `twin.bounds.MAX_DURATION`.

    Raises:
        ValueError: not a duration, negative, or longer than the bound (the message shows it).
    """
    seconds = parse_duration(value)
    if seconds > MAX_DURATION:
        raise ValueError(out_of_range(value, f"a duration of at most {years(MAX_DURATION)}"))
    return seconds


class _Dist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def scaled(self, factor: float) -> Distribution:
        """The same shape with every time multiplied by `factor` (a faster/slower machine)."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides


def _dur(value: Any) -> float:
    return check_duration(value)


class Deterministic(_Dist):
    """Always the same value."""

    kind: Literal["deterministic"] = "deterministic"
    value: float = Field(ge=0)

    _v = field_validator("value", mode="before")(_dur)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def cv(self) -> float:
        return 0.0

    def sample(self, rng: random.Random) -> float:
        return self.value

    def scaled(self, factor: float) -> Deterministic:
        return Deterministic(value=self.value * factor)


class Exponential(_Dist):
    """Memoryless, the queueing-theory default; `mean` = 1/rate."""

    kind: Literal["exponential"] = "exponential"
    mean_: float = Field(gt=0, alias="mean")

    _v = field_validator("mean_", mode="before")(_dur)
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def cv(self) -> float:
        return 1.0

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_)

    def scaled(self, factor: float) -> Exponential:
        return Exponential(mean=self.mean_ * factor)


class Triangular(_Dist):
    """Low, mode, high: the planner's three-point estimate."""

    kind: Literal["triangular"] = "triangular"
    low: float = Field(ge=0)
    mode: float = Field(ge=0)
    high: float = Field(ge=0)

    _v = field_validator("low", "mode", "high", mode="before")(_dur)

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high:
            raise ValueError(f"need low <= mode <= high, got {self.low}, {self.mode}, {self.high}")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3.0

    @property
    def cv(self) -> float:
        a, c, b = self.low, self.mode, self.high
        var = (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0
        return math.sqrt(var) / self.mean if self.mean > 0 else 0.0

    def sample(self, rng: random.Random) -> float:
        return rng.triangular(self.low, self.high, self.mode)

    def scaled(self, factor: float) -> Triangular:
        return Triangular(low=self.low * factor, mode=self.mode * factor, high=self.high * factor)


class Lognormal(_Dist):
    """Right-skewed repair and processing times, given by mean and coefficient of variation."""

    kind: Literal["lognormal"] = "lognormal"
    mean_: float = Field(gt=0, alias="mean")
    cv_: float = Field(gt=0, le=MAX_CV, alias="cv")

    _v = field_validator("mean_", mode="before")(_dur)
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def cv(self) -> float:
        return self.cv_

    def sample(self, rng: random.Random) -> float:
        sigma2 = math.log1p(self.cv_ * self.cv_)
        mu = math.log(self.mean_) - sigma2 / 2.0
        return rng.lognormvariate(mu, math.sqrt(sigma2))

    def scaled(self, factor: float) -> Lognormal:
        return Lognormal(mean=self.mean_ * factor, cv=self.cv_)


class Normal(_Dist):
    """Normal truncated at zero: negative draws are drawn again, so the shape is honest."""

    kind: Literal["normal"] = "normal"
    mu: float = Field(gt=0, alias="mean")
    sd: float = Field(ge=0)

    _v = field_validator("mu", "sd", mode="before")(_dur)
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @property
    def mean(self) -> float:
        if self.sd == 0:
            return self.mu
        a = -self.mu / self.sd
        pdf = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
        tail = 0.5 * math.erfc(a / math.sqrt(2))
        return self.mu + self.sd * pdf / tail

    @property
    def cv(self) -> float:
        return self.sd / self.mu

    def sample(self, rng: random.Random) -> float:
        for _ in range(1000):
            x = rng.gauss(self.mu, self.sd)
            if x >= 0:
                return x
        return 0.0  # mean > 0 makes this practically unreachable (P < 0.5**1000)

    def scaled(self, factor: float) -> Normal:
        return Normal(mean=self.mu * factor, sd=self.sd * factor)


class Empirical(_Dist):
    """Observed samples, drawn with replacement."""

    kind: Literal["empirical"] = "empirical"
    samples: tuple[float, ...] = Field(min_length=1, max_length=MAX_SAMPLES)

    @field_validator("samples", mode="before")
    @classmethod
    def _durs(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(check_duration(v) for v in value[: MAX_SAMPLES + 1])
        return value

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)

    @property
    def cv(self) -> float:
        m = self.mean
        if m == 0 or len(self.samples) < 2:
            return 0.0
        var = sum((x - m) ** 2 for x in self.samples) / (len(self.samples) - 1)
        return math.sqrt(var) / m

    def sample(self, rng: random.Random) -> float:
        return self.samples[rng.randrange(len(self.samples))]

    def scaled(self, factor: float) -> Empirical:
        return Empirical(samples=tuple(x * factor for x in self.samples))


Distribution = Annotated[
    Deterministic | Exponential | Triangular | Lognormal | Normal | Empirical,
    Field(discriminator="kind"),
]

_KINDS = {"deterministic", "exponential", "triangular", "lognormal", "normal", "empirical"}


def expand_short_form(value: Any) -> Any:
    """Turn the YAML short forms into the tagged mapping pydantic validates."""
    if isinstance(value, _Dist):
        return value
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"kind": "deterministic", "value": value}
    if value is None or isinstance(value, bool | list | tuple):
        raise ValueError(
            f"expected a time (e.g. 45, '45s', '5m') or a distribution like {{exponential: 5m}}, "
            f"got {value!r}"
        )
    if isinstance(value, dict) and "kind" not in value and len(value) != 1:
        raise ValueError(
            f"a distribution is a mapping of one kind to its parameters, e.g. {{exponential: 5m}}; "
            f"got keys {', '.join(map(str, value)) or 'none'}"
        )
    if isinstance(value, dict) and "kind" not in value and len(value) == 1:
        ((kind, arg),) = value.items()
        if kind not in _KINDS:
            raise ValueError(f"unknown distribution {kind!r}; expected one of {sorted(_KINDS)}")
        if kind == "deterministic":
            return {"kind": kind, "value": arg}
        if kind == "exponential":
            return {"kind": kind, "mean": arg}
        if kind == "triangular" and isinstance(arg, list | tuple):
            if len(arg) != 3:
                raise ValueError("triangular needs [low, mode, high]")
            return {"kind": kind, "low": arg[0], "mode": arg[1], "high": arg[2]}
        if kind == "empirical":
            return {"kind": kind, "samples": arg}
        if isinstance(arg, dict):
            return {"kind": kind, **arg}
        raise ValueError(f"{kind} needs a mapping of parameters, got {arg!r}")
    return value


Dist = Annotated[Distribution, BeforeValidator(expand_short_form)]
"""A distribution field that accepts the YAML short forms."""
