"""Typed hyperparameter search spaces.

A method declares ``space = {"lr": LogUniform(1e-4, 1.0), ...}``. The space
is the range a tuner samples from; ``sample(u)`` maps ``u`` in [0, 1) to a
value, so quasi-random (Sobol, Halton) points map to configurations
deterministically.

The tuning range is not a validity range: a user may set any value the method
can take (``--hp adamw.weight_decay=1.0``, a task's ``hp_overrides``). What a
method can take is the parameter's ``limits``, declared apart from the range::

    space = {"lr": LogUniform(1e-4, 1.0, limits=POSITIVE),   # lr > 0
             "p": Uniform(0.0, 0.5, limits=PROBABILITY)}      # 0 <= p <= 1

Undeclared limits are: ``>= 0`` for ``LogUniform`` and ``IntRange`` (log-scaled
and integer hyperparameters are magnitudes and counts), any finite number for
``Uniform``, and the options themselves for ``Choice``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Hard validity limits of a numeric hyperparameter (``None``: unbounded on that side).

    ``low_open``/``high_open`` exclude the bound itself, e.g. ``Limits(0, low_open=True)`` is ``x > 0``.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def check(self, x: float) -> None:
        """Raise ``ValueError`` when ``x`` is not a value the method can take."""
        too_low = self.low is not None and (x <= self.low if self.low_open else x < self.low)
        too_high = self.high is not None and (x >= self.high if self.high_open else x > self.high)
        if too_low or too_high:
            raise ValueError(f"{x} is outside the values it can take (it must be {self.describe()})")

    def admits(self, x: float) -> bool:
        try:
            self.check(x)
        except ValueError:
            return False
        return True

    def describe(self) -> str:
        lo = None if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
        hi = None if self.high is None else f"{'<' if self.high_open else '<='} {self.high:g}"
        if lo and hi:
            return f"{lo} and {hi}"
        return lo or hi or "any finite number"


POSITIVE = Limits(0.0, low_open=True)
NON_NEGATIVE = Limits(0.0)
PROBABILITY = Limits(0.0, 1.0)
UNIT_OPEN = Limits(0.0, 1.0, low_open=True, high_open=True)  # e.g. a decay rate beta in (0, 1)
UNBOUNDED = Limits()


class Param:
    """One dimension of a search space: a tuning range plus the hard limits of valid values."""

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to the parameter's type if it lies in the tuning range, else raise ``ValueError``."""
        raise NotImplementedError

    def accept(self, value: Any) -> Any:
        """Return ``value`` converted to the parameter's type if the method can take it (within ``limits``,
        possibly outside the tuning range), else raise ``ValueError``."""
        raise NotImplementedError

    def sample(self, u: float, steps: int | None = None) -> Any:
        """Map ``u`` in [0, 1) to a value of the space; ``steps`` is the task's step budget, which
        only :class:`BudgetSteps` reads."""
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """Parse a command-line string to a value the method can take (the tuning range does not apply)."""
        return self.accept(text)

    def range_problem(self) -> str | None:
        """Why the tuning range reaches outside the limits (None when it does not)."""
        return None

    def describe(self) -> str:
        raise NotImplementedError


class _Numeric(Param):
    """Shared by the ranged parameters: convert, check limits, check the range."""

    low: Any
    high: Any
    limits: Limits | None
    default_limits: Limits = UNBOUNDED

    def effective_limits(self) -> Limits:
        return self.limits if self.limits is not None else self.default_limits

    def convert(self, value: Any) -> Any:
        return _as_float(value)

    def accept(self, value: Any) -> Any:
        x = self.convert(value)
        self.effective_limits().check(x)
        return x

    def validate(self, value: Any) -> Any:
        x = self.convert(value)
        if not self.low <= x <= self.high:
            raise ValueError(f"{x} is outside [{self.low}, {self.high}]")
        return x

    def range_problem(self) -> str | None:
        lim = self.effective_limits()
        if lim.admits(self.low) and lim.admits(self.high):
            return None
        return f"tuning range [{self.low}, {self.high}] reaches outside the valid values ({lim.describe()})"


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"expected a finite number, got {value!r}")
    return out


@dataclass(frozen=True)
class Uniform(_Numeric):
    low: float
    high: float
    limits: Limits | None = None  # undeclared: any finite number

    def sample(self, u: float, steps: int | None = None) -> float:
        return self.low + u * (self.high - self.low)

    def describe(self) -> str:
        return f"uniform({self.low}, {self.high})"


@dataclass(frozen=True)
class LogUniform(_Numeric):
    low: float
    high: float
    limits: Limits | None = None  # undeclared: >= 0
    default_limits = NON_NEGATIVE

    def __post_init__(self) -> None:
        if not 0 < self.low < self.high:
            raise ValueError("LogUniform needs 0 < low < high")

    def sample(self, u: float, steps: int | None = None) -> float:
        value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return min(self.high, max(self.low, value))  # exp(log(low)) can round below low

    def describe(self) -> str:
        return f"loguniform({self.low}, {self.high})"


@dataclass(frozen=True)
class IntRange(_Numeric):
    low: int
    high: int
    log: bool = False
    limits: Limits | None = None  # undeclared: >= 0
    default_limits = NON_NEGATIVE

    def convert(self, value: Any) -> int:
        return _as_int(value)

    def sample(self, u: float, steps: int | None = None) -> int:
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high + 1)
            return min(self.high, max(self.low, int(math.exp(lo + u * (hi - lo)))))  # rounding at u=0
        return min(self.high, self.low + int(u * (self.high - self.low + 1)))

    def describe(self) -> str:
        return f"int({self.low}, {self.high}{', log' if self.log else ''})"


@dataclass(frozen=True)
class BudgetSteps(_Numeric):
    """A number of training steps (a warm-up, a penalty's annealing), tuned as a share of the task's budget.

    ``low`` and ``high`` are fractions of the task's step budget, so the same declaration means the
    same thing on a 400-step task and a 5,000-step one: DomainBed draws IRM's annealing from
    10^U(0, 4) iterations of its 5,000, which is ``BudgetSteps(2e-4, 2.0, log=True)``, where an
    absolute ``IntRange(0, 10000)`` would leave the penalty off for the whole of a 400-step run in
    96% of the draws. The value a method receives (and a user sets with ``--hp``) is an integer
    number of steps; any non-negative one is valid, since a range in fractions has no meaning
    without the budget.
    """

    low: float
    high: float
    log: bool = False
    limits: Limits | None = None  # undeclared: >= 0
    default_limits = NON_NEGATIVE

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high or (self.log and self.low == 0):
            raise ValueError("BudgetSteps needs 0 <= low < high (0 < low when log)")

    def convert(self, value: Any) -> int:
        return _as_int(value)

    def validate(self, value: Any) -> int:
        return self.accept(value)

    def fraction(self, u: float) -> float:
        """The share of the budget at ``u``: log-uniform or uniform over [low, high]."""
        return (LogUniform(self.low, self.high) if self.log else Uniform(self.low, self.high)).sample(u)

    def sample(self, u: float, steps: int | None = None) -> int:
        if steps is None:
            raise ValueError("a BudgetSteps hyperparameter is sampled against the task's step budget")
        return max(0, round(self.fraction(u) * steps))

    def describe(self) -> str:
        return f"steps({self.low:g}-{self.high:g} x budget{', log' if self.log else ''})"


@dataclass(frozen=True)
class Choice(Param):
    options: tuple

    def __init__(self, options) -> None:  # accept any iterable, store a tuple
        object.__setattr__(self, "options", tuple(options))

    def validate(self, value: Any) -> Any:
        for option in self.options:
            if not isinstance(value, str) and isinstance(value, bool) != isinstance(option, bool):
                continue  # 1 == True in Python; not for a choice of booleans
            if value == option or (isinstance(value, str) and str(option) == value):
                return option
        raise ValueError(f"{value!r} is not one of {list(self.options)}")

    def accept(self, value: Any) -> Any:
        return self.validate(value)  # a choice's options are all the values it can take

    def sample(self, u: float, steps: int | None = None) -> Any:
        return self.options[min(len(self.options) - 1, int(u * len(self.options)))]

    def describe(self) -> str:
        return "choice(" + ", ".join(map(repr, self.options)) + ")"


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    try:
        x = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        x = None
    if x is None:
        raise ValueError(f"expected an integer, got {value!r}")
    return x


def check_typed(value: Any, like: Any) -> Any:
    """Check a Python value (a task's ``hp_overrides``) against the type of the default ``like``.

    A float hyperparameter takes an int (converted); an int one takes no float and no bool;
    a default of None takes anything (the method decides).
    """
    if like is None:
        return value
    if isinstance(like, bool):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if isinstance(like, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        return value
    if isinstance(like, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {value!r}")
        return _as_float(value)
    if not isinstance(value, type(like)):
        raise ValueError(f"expected a {type(like).__name__}, got {value!r}")
    return value


def parse_typed(text: str, like: Any) -> Any:
    """Parse ``text`` to the type of the default value ``like`` (for hps outside the space)."""
    if isinstance(like, bool):
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if isinstance(like, float):
        return _as_float(text)
    if like is None or isinstance(like, str):
        return text
    raise ValueError(f"cannot set a hyperparameter of type {type(like).__name__} from the command line")
