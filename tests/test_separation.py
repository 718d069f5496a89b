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


def test_issue_sample_draws_the_extra_methods_and_holm_counts_only_the_sample():
    a = [0.0, 1.0, 0.0, 1.0, 0.5]  # mean 0.5, sd 0.5
    samples = {"A": a, "B": [x + 10 for x in a], "C": list(a), "D": [x + 20 for x in a]}
    # Every other method drawn (K = 2 of 2): one draw, the whole table. Pairs: A-C equal (p = 1),
    # the other five 10 or more sds apart: (b) 5/6. (a) 20 / 0.5 = 40. Ranks D 1, B 2, A and C 3.
    f = separation.sampled_figures(samples, "max", ["A", "B"], 2, draws=50)
    assert f["draws"] == 1 and f["methods"] == 4 and f["core"] == 2
    assert f["range_over_sd"] == pytest.approx(40.0) and f["significant_pairs"] == pytest.approx(5 / 6)
    assert f["groups"] == 3 and f["meets_a"] == f["meets_b"] == f["meets_c"] == 1.0
    # K = 1: each draw adds C (A-B and B-C significant, A-C not: 2/3) or D (all three: 1);
    # both kinds occur over 40 seeded draws and every draw meets (b) >= 25%.
    g = separation.sampled_figures(samples, "max", ["A", "B"], 1, draws=40)
    assert g["draws"] == 40 and g["significant_pairs"] in (pytest.approx(2 / 3), 1.0)
    assert g["meets_b"] == 1.0 and 0.0 < g["meets_c"] < 1.0  # 3 groups only with D (D, B, A)
    assert separation.sampled_figures(samples, "max", ["A", "B"], 1, draws=40) == g  # seeded


def test_sample_option_refuses_a_malformed_value(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    assert separation.main([str(tmp_path), "--sample", "defaults+five"]) == 2
    assert "--sample takes defaults+K" in capsys.readouterr().err
