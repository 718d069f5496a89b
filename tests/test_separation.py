"""benchmarks/separation.py: the three separation figures on a hand-computed case."""

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("separation", Path(__file__).parents[1] / "benchmarks" / "separation.py")
separation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(separation)


def test_figures_by_hand():
    # Means 2, 12, 2.5; every sd is 1. (a) (12 - 2) / 1 = 10.
    # A vs B: t = 10 / sqrt(1/3 + 1/3) = 12.2 on 4 df, p ~ 3e-4; C vs B alike; A vs C: t = 0.61, p ~ 0.57.
    # Holm over 3 pairs keeps the two B pairs below 0.05: (b) 2 of 3 pairs. (c) B first, A and C
    # each have one method significantly better: ranks {1, 2}, two groups.
    f = separation.figures({"A": [1.0, 2.0, 3.0], "B": [11.0, 12.0, 13.0], "C": [1.5, 2.5, 3.5]}, "max")
    assert f["range_over_sd"] == pytest.approx(10.0)
    assert f["significant_pairs"] == pytest.approx(2 / 3)
    assert f["groups"] == 2 and f["ranks"] == {"A": 2, "B": 1, "C": 2}


def test_censored_runs_are_listed_not_averaged():
    import json

    import pandas as pd

    def row(method, status, metrics):
        return {"task": "g/t", "method": method, "status": status, "primary_metric": "steps_to_target",
                "primary_direction": "min", "metrics": json.dumps(metrics)}

    df = pd.DataFrame([
        row("fast", "ok", {"steps_to_target": 100.0, "target_censored": 0.0}),
        row("fast", "ok", {"steps_to_target": 200.0, "target_censored": 0.0}),
        row("never", "error", {"target_censored": 1.0, "target_budget_steps": 4000.0}),
        row("never", "error", {"target_censored": 1.0, "target_budget_steps": 4000.0}),
    ])
    name, direction, samples, censored = separation.task_samples(df, None)["g/t"]
    assert name == "steps_to_target" and direction == "min"
    assert samples == {"fast": [100.0, 200.0]} and censored == {"never": (2, 2)}
