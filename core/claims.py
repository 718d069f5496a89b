"""Papers' quantitative claims, stated as data on the method, and what this benchmark measured.

A method lists its paper's claims (``Method.claims``), each a :class:`Claim`: the quote, the kind
of effect (a unit this benchmark can measure), the claimed value, the paper's setting, and where
regsuite measures the closest thing (a task and the method compared against). :func:`assess`
turns a claim and the stored runs into a measurement with a 95% interval and a verdict:

* ``consistent``: the effect is significant in the claimed direction and the interval reaches the
  claimed value (for "at most" claims: the whole interval is within the claimed bound);
* ``smaller``: significant in the claimed direction, but the whole interval falls short;
* ``not reproduced``: no significant effect in the claimed direction (or the bound is exceeded);
* ``not measurable here``: no task of this benchmark measures it, or no runs yet.

Effect kinds (ratios are the compared method's cost over the method's, so > 1 is a speed-up):

* ``steps_ratio`` / ``tokens_ratio`` / ``samples_ratio``: time to the task's target, compared
  against ``versus``; censored seeds count at the budget, which can only shrink a speed-up, so a
  censored comparison is labelled a bound;
* ``wall_ratio``: wall-clock time to the target, estimated per seed as time-to-target (tokens or
  steps) x mean step time, compared against ``versus`` (same machine, same batch);
* ``step_time_ratio``: per-step wall time of the method over ``versus`` ("at most" claims);
* ``accuracy_delta``: primary metric difference in points (x100) against ``versus``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("steps_ratio", "tokens_ratio", "samples_ratio", "wall_ratio", "step_time_ratio", "accuracy_delta")
VERDICTS = ("consistent", "smaller", "not reproduced", "not measurable here")
_TARGET_METRIC = {"steps_ratio": "steps_to_target", "tokens_ratio": "tokens_to_target",
                  "samples_ratio": "samples_to_target"}


@dataclass(frozen=True)
class Claim:
    quote: str  # the paper's words
    kind: str  # one of KINDS
    value: float  # the claimed effect in that unit (e.g. 50.0 for "50x faster")
    setting: str  # the paper's setting (model, data, budget)
    task: str | None = None  # "suite/name" of the closest regsuite measurement; None: none here
    versus: str | None = None  # the method compared against (default: the task's baseline)
    bound: str = "at_least"  # "at_least" (a claimed improvement) or "at_most" (a claimed cost bound)

    def problems(self) -> list[str]:
        out = []
        if self.kind not in KINDS:
            out.append(f"claim kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.bound not in ("at_least", "at_most"):
            out.append(f"claim bound must be 'at_least' or 'at_most', got {self.bound!r}")
        if not self.quote or not self.setting:
            out.append("a claim needs the paper's quote and setting")
        return out


@dataclass
class Assessment:
    claim: Claim
    method: str
    verdict: str
    measured: float = math.nan
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    note: str = ""


def bootstrap_ratio(num, den, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """mean(num) / mean(den) with a 95% percentile bootstrap interval over seeds (fixed RNG)."""
    import numpy as np

    num, den = np.asarray(num, float), np.asarray(den, float)
    point = num.mean() / den.mean()
    rng = np.random.default_rng(seed)
    a = num[rng.integers(0, len(num), (resamples, len(num)))].mean(1)
    b = den[rng.integers(0, len(den), (resamples, len(den)))].mean(1)
    lo, hi = np.percentile(a / b, [2.5, 97.5])
    return float(point), float(lo), float(hi)


def _verdict(point: float, lo: float, hi: float, null: float, claimed: float, bound: str) -> str:
    if bound == "at_most":
        return "consistent" if hi <= claimed else "not reproduced"
    if lo <= null:
        return "not reproduced"
    return "consistent" if hi >= claimed else "smaller"


def assess(claim: Claim, method: str, runs, tasks: dict, protocol: str | None = None) -> Assessment:
    """Measure ``claim`` for ``method`` on the ok runs of ``runs`` (one protocol: the given one,
    else the tuned one if any, else ``default``)."""
    from .stats import t_interval, welch_p
    from .store import metrics_of

    none = Assessment(claim, method, "not measurable here")
    task = tasks.get(claim.task) if claim.task else None
    if task is None or runs is None or not len(runs):
        none.note = "no task of this benchmark measures it" if task is None else "no runs yet"
        return none
    versus = claim.versus or task.baseline
    part = runs[(runs["task"] == claim.task) & (runs["status"] == "ok")]
    protocols = sorted(set(part["protocol"]))
    chosen = protocol or next((p for p in protocols if p.startswith("tuned")), "default")
    part = part[part["protocol"] == chosen]
    mine, theirs = part[part["method"] == method], part[part["method"] == versus]
    if len(mine) < 2 or len(theirs) < 2:
        none.note = f"fewer than 2 ok seeds of {method} and {versus} on {claim.task} ({chosen})"
        return none

    def values(frame, name):
        found = [metrics_of(r).get(name) for r in frame.to_dict("records")]
        return [math.nan if v is None else float(v) for v in found]  # a censored run may store null

    if claim.kind in _TARGET_METRIC:
        metric = _TARGET_METRIC[claim.kind]
        a, b = values(mine, metric), values(theirs, metric)
        censored = values(mine, "target_censored") + values(theirs, "target_censored")
        unit = claim.kind.split("_")[0]  # steps, tokens or samples: the budget on the same axis bounds a censored run
        budget = getattr(task.budget, unit, None)
        budget = math.nan if budget is None else float(budget)
        if any(math.isnan(v) for v in a + b) and math.isnan(budget):
            none.note = f"{metric} not recorded on {claim.task}"
            return none
        a = [budget if math.isnan(v) else v for v in a]
        b = [budget if math.isnan(v) else v for v in b]
        point, lo, hi = bootstrap_ratio(b, a)
        note = f"{versus} {unit} / {method} {unit} to the target ({chosen})"
        if any(c == 1.0 for c in censored):
            note += "; censored seeds counted at the budget (a bound)"
        return Assessment(claim, method, _verdict(point, lo, hi, 1.0, claim.value, claim.bound), point, lo, hi,
                          len(a), note)
    if claim.kind == "wall_ratio":
        axis = "tokens_to_target" if not all(math.isnan(v) for v in values(mine, "tokens_to_target")) \
            else "steps_to_target"
        budget = float(task.budget.tokens or math.nan) if axis == "tokens_to_target" else float(task.budget.steps)
        a = [(budget if math.isnan(v) else v) * float(t) for v, t in zip(values(mine, axis), mine["step_time_ms"])]
        b = [(budget if math.isnan(v) else v) * float(t) for v, t in zip(values(theirs, axis), theirs["step_time_ms"])]
        if any(math.isnan(v) for v in a + b):
            none.note = f"{axis} or step time not recorded on {claim.task}"
            return none
        point, lo, hi = bootstrap_ratio(b, a)
        return Assessment(claim, method, _verdict(point, lo, hi, 1.0, claim.value, claim.bound), point, lo, hi,
                          len(a), f"{versus} / {method} wall time to the target ({axis} x step time, {chosen})")
    if claim.kind == "step_time_ratio":
        a = [float(v) for v in mine["step_time_ms"]]
        b = [float(v) for v in theirs["step_time_ms"]]
        point, lo, hi = bootstrap_ratio(a, b)
        return Assessment(claim, method, _verdict(point, lo, hi, 1.0, claim.value, claim.bound), point, lo, hi,
                          len(a), f"{method} step time / {versus} step time, same machine ({chosen})")
    # accuracy_delta, in points
    a = [100 * float(v) for v in mine["primary_value"]]
    b = [100 * float(v) for v in theirs["primary_value"]]
    (ma, ha, _), (mb, hb, _) = t_interval(a), t_interval(b)
    diff = ma - mb
    half = math.sqrt(ha**2 + hb**2)  # conservative combination of the two intervals
    p = welch_p(a, b)
    verdict = _verdict(diff, diff - half, diff + half, 0.0, claim.value, claim.bound)
    if verdict != "not reproduced" and not p < 0.05:
        verdict = "not reproduced"
    return Assessment(claim, method, verdict, diff, diff - half, diff + half, len(a),
                      f"{task.primary.name} of {method} minus {versus}, points ({chosen}; Welch p={p:.2g})")
