"""Papers' claims against measurements: effect, interval and verdict, by hand."""

import json
import math

import pandas as pd
import pytest

from regsuite.claims import Claim, assess, bootstrap_ratio
from regsuite.task import Budget, Metric


class Grok:
    baseline = "adamw"
    budget = Budget(steps=1000)
    primary = Metric("steps_to_target", "min")


def _rows(method, steps, censored=None):
    censored = censored or [0.0] * len(steps)
    return [{"task": "g/t", "status": "ok", "protocol": "tuned:sobol-6", "method": method, "seed": i,
             "primary_value": s, "step_time_ms": 1.0,
             "metrics": json.dumps({"steps_to_target": s, "target_censored": c})}
            for i, (s, c) in enumerate(zip(steps, censored))]


CLAIM = Claim("accelerate grokking more than 50x", "steps_ratio", 50.0, "MNIST MLP, 1e5 steps", task="g/t")


def test_bootstrap_ratio_point_is_the_ratio_of_means():
    point, lo, hi = bootstrap_ratio([10.0, 10.0, 10.0], [2.0, 2.0, 2.0])
    assert point == 5.0 and lo == pytest.approx(5.0) and hi == pytest.approx(5.0)


def test_a_smaller_speedup_than_claimed_is_smaller():
    runs = pd.DataFrame(_rows("adamw", [800, 810, 790]) + _rows("grokfast", [200, 205, 195]))
    a = assess(CLAIM, "grokfast", runs, {"g/t": Grok()})
    assert a.measured == pytest.approx(800 / 200)  # means 800 and 200: 4x, far from 50x
    assert a.low > 1 and a.high < 50 and a.verdict == "smaller"


def test_no_speedup_is_not_reproduced_and_censoring_is_said():
    runs = pd.DataFrame(_rows("adamw", [500, 600, math.nan], [0, 0, 1]) + _rows("grokfast", [550, 580, 560]))
    a = assess(CLAIM, "grokfast", runs, {"g/t": Grok()})
    assert a.verdict == "not reproduced" and "censored" in a.note
    assert a.measured == pytest.approx(((500 + 600 + 1000) / 3) / ((550 + 580 + 560) / 3))  # budget for censored


def test_unmeasurable_claims_say_why():
    a = assess(Claim("2.56% test error", "accuracy_delta", 1.0, "CIFAR-10 WRN"), "cutout", pd.DataFrame(), {})
    assert a.verdict == "not measurable here" and "no task" in a.note
    assert Claim("q", "speedup", 2.0, "s").problems()  # unknown kind refused


def test_wall_ratio_multiplies_time_to_target_by_step_time():
    rows = _rows("adamw", [800, 800, 800]) + _rows("fast", [400, 400, 400])
    for r in rows:
        r["step_time_ms"] = 2.0 if r["method"] == "fast" else 1.0  # half the steps at twice the cost
    claim = Claim("1.4x faster in wall-clock time", "wall_ratio", 1.4, "GPT", task="g/t")
    a = assess(claim, "fast", pd.DataFrame(rows), {"g/t": Grok()})
    assert a.measured == pytest.approx(1.0) and a.verdict == "not reproduced"


def test_a_censored_tokens_ratio_counts_the_token_budget():
    # 3 of 5 AdEMAMix seeds never reached the target in 614,400 tokens (llm/stdlib-mini's budget):
    # each counts at the budget, so the ratio is a bound, not "not recorded".
    class LM:
        baseline = "adamw"
        budget = Budget(steps=300, tokens=614_400)

    def rows(method, tokens):
        return [{"task": "l/t", "status": "ok", "protocol": "tuned:sobol-6", "method": method, "seed": i,
                 "primary_value": 2.0, "step_time_ms": 1.0,
                 "metrics": json.dumps({"tokens_to_target": t, "target_censored": float(t is None)})}
                for i, t in enumerate(tokens)]

    runs = pd.DataFrame(rows("adamw", [460_800, 460_800, 512_000]) + rows("ademamix", [512_000, None, None]))
    claim = Claim("comparable to AdamW on +95% tokens", "tokens_ratio", 1.95, "1.3B LLM", task="l/t")
    a = assess(claim, "ademamix", runs, {"l/t": LM()})
    assert a.measured == pytest.approx(((460_800 * 2 + 512_000) / 3) / ((512_000 + 2 * 614_400) / 3))
    assert a.verdict == "not reproduced" and "adamw tokens / ademamix tokens" in a.note and "censored" in a.note
