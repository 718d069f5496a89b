"""Time to target: when a run first reaches a declared metric threshold, censored when it never does.

A task declares ``target = Target(metric="val_accuracy", threshold=0.95, axis="steps",
stop_early=True)``. Its loop builds one tracker and calls it at every evaluation::

    tracker = TargetTracker(task.target, budget=budget.steps)   # budget on the target's axis
    for step in ...:
        ...
        if evaluating:
            tracker.update(metrics["val_accuracy"], step=step, samples=step * batch, wall_s=...)
            if tracker.should_stop:                              # reached and stop_early declared
                break
    final_metrics.update(tracker.metrics())

How "not reached" is stored, so it can never be read as a number of steps by accident:

- reached: ``{"steps_to_target": 1200.0, "target_censored": 0.0, "target_budget_steps": 40000.0}``
  (plus ``samples_to_target`` / ``tokens_to_target`` / ``wall_s_to_target`` for every axis the
  loop passed to ``update``);
- not reached: ``{"target_censored": 1.0, "target_budget_steps": 40000.0}``: no ``*_to_target``
  key at all. The budget is stored under its own name, as the censoring point.

The target is checked on validation metrics only (a ``test_`` metric is refused): stopping
on the test split would tune on it. Resolution is the evaluation interval: the first
evaluation at or past the threshold counts. The formatting helpers at the end render values for
tables ("1,200 steps", "not reached in 40,000 steps", "3.0x fewer steps").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

AXES = ("steps", "samples", "tokens", "wall_s")
AXIS_WORDS = {"steps": "steps", "samples": "samples", "tokens": "tokens", "wall_s": "s"}
CENSORED = "target_censored"


def to_target_key(axis: str) -> str:
    """Metric name of the time to target on ``axis``: ``steps_to_target``, ``wall_s_to_target``..."""
    return f"{axis}_to_target"


def budget_key(axis: str) -> str:
    return f"target_budget_{axis}"


@dataclass(frozen=True)
class Target:
    """A threshold on a validation metric, and the axis along which time to reach it is counted.

    ``direction`` "max": reached when the value is >= threshold; "min": when <= threshold.
    ``stop_early``: the loop may end the run at the first evaluation that reaches it.
    """

    metric: str
    threshold: float
    direction: str = "max"
    axis: str = "steps"
    stop_early: bool = False

    def __post_init__(self) -> None:
        if self.direction not in ("max", "min"):
            raise ValueError(f"target direction must be 'max' or 'min', got {self.direction!r}")
        if self.axis not in AXES:
            raise ValueError(f"target axis must be one of {', '.join(AXES)}, got {self.axis!r}")
        if not isinstance(self.threshold, (int, float)) or not math.isfinite(self.threshold):
            raise ValueError(f"target threshold must be a finite number, got {self.threshold!r}")
        if self.metric.startswith("test"):
            raise ValueError(f"target metric {self.metric!r} is a test metric: targets are checked on validation")

    def met_by(self, value: float) -> bool:
        """True when ``value`` reaches the threshold (NaN never does)."""
        if value is None or value != value:
            return False
        return value >= self.threshold if self.direction == "max" else value <= self.threshold

    def describe(self) -> str:
        op = ">=" if self.direction == "max" else "<="
        stop = ", stops early" if self.stop_early else ""
        return f"{self.metric} {op} {self.threshold:g} (in {self.axis}{stop})"


class TargetTracker:
    """Records the first evaluation at which a run meets its :class:`Target`.

    ``budget`` is the run's budget on the target's axis (steps for axis "steps", steps x batch
    size for "samples", ...); it is stored as the censoring point. None when unknown in advance
    (wall seconds): then only the censoring flag is stored.
    """

    def __init__(self, target: Target, budget: float | None = None):
        self.target = target
        self.budget = budget
        self.at: dict[str, float] | None = None  # the axes' values at the first evaluation reaching it

    @property
    def reached(self) -> bool:
        return self.at is not None

    @property
    def should_stop(self) -> bool:
        return self.reached and self.target.stop_early

    def update(self, value: float, *, step: int, samples: float | None = None, tokens: float | None = None,
               wall_s: float | None = None) -> bool:
        """Feed one evaluation; returns :attr:`reached`. Later evaluations never move the first hit."""
        if self.at is None and self.target.met_by(value):
            point = {"steps": step, "samples": samples, "tokens": tokens, "wall_s": wall_s}
            if point[self.target.axis] is None:
                raise ValueError(f"target axis is {self.target.axis!r} but update() got no {self.target.axis}=")
            self.at = {axis: float(v) for axis, v in point.items() if v is not None}
        return self.reached

    def metrics(self) -> dict[str, float]:
        out = {CENSORED: 0.0 if self.reached else 1.0}
        if self.budget is not None:
            out[budget_key(self.target.axis)] = float(self.budget)
        if self.at is not None:
            out.update({to_target_key(axis): v for axis, v in self.at.items()})
        return out


# ----------------------------------------------------------------------------- formatting


def _number(value: float, axis: str) -> str:
    if axis == "wall_s":
        return f"{value:,.1f} s"
    return f"{value:,.0f} {AXIS_WORDS[axis]}"


def time_to_target(metrics: dict, axis: str = "steps") -> float | None:
    """A run's time to target on ``axis`` from its metrics dict; None when censored or untracked."""
    if metrics.get(CENSORED) == 1.0:
        return None
    value = metrics.get(to_target_key(axis))
    return None if value is None or value != value else float(value)


def format_time_to_target(metrics: dict, axis: str = "steps") -> str:
    """'1,200 steps', 'not reached in 40,000 steps', or '' when the run tracked no target."""
    if CENSORED not in metrics and to_target_key(axis) not in metrics:
        return ""
    value = time_to_target(metrics, axis)
    if value is not None:
        return _number(value, axis)
    budget = metrics.get(budget_key(axis))
    return f"not reached in {_number(budget, axis)}" if budget is not None else "not reached"


def median_time_to_target(values: list[float | None]) -> float | None:
    """Median over seeds with censored runs (None) counted as never reaching it (+infinity).

    This is the usual median of a time-to-event sample: defined while fewer than half of the
    seeds are censored, None (not reached) otherwise. Mean and standard deviation are not:
    a censored run has no value to average.
    """
    if not values:
        return None
    import statistics

    median = statistics.median([math.inf if v is None else float(v) for v in values])
    return None if math.isinf(median) else median


def format_ratio(baseline: float | None, value: float | None, axis: str = "steps") -> str:
    """'3.0x fewer steps' / '1.5x more steps' / 'same steps'; '' unless both reached it."""
    if baseline is None or value is None or baseline <= 0 or value <= 0:
        return ""
    word = AXIS_WORDS[axis] if axis != "wall_s" else "time"
    if math.isclose(baseline, value):
        return f"same {word}"
    if value < baseline:
        return f"{baseline / value:.1f}x fewer {word}" if axis != "wall_s" else f"{baseline / value:.1f}x less time"
    return f"{value / baseline:.1f}x more {word}"
