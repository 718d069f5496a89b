"""Scoring by hand: t-interval, rank in the metric's direction, delta and cost ratios to the baseline."""

import json

import pandas as pd
import pytest

from regsuite.scoring import aggregate, t_interval


def runs(rows):
    base = {"suite": "s", "suite_version": "1", "task": "s/t", "tier": "smoke", "protocol": "default",
            "primary_metric": "loss", "primary_direction": "min", "state_mem_mb": 1.0, "metrics": json.dumps({})}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_t_interval_by_hand():
    mean, half, n = t_interval([1.0, 2.0, 3.0])
    # sd = 1, t_{0.975, 2} = 4.302652729911275
    assert (mean, n) == (2.0, 3) and half == pytest.approx(4.302652729911275 / 3**0.5)
    assert t_interval([5.0])[1] != t_interval([5.0])[1]  # NaN for one seed


def test_aggregate_ranks_in_the_metrics_direction_and_compares_to_the_baseline():
    df = runs(
        [
            {"method": "base", "seed": 0, "status": "ok", "primary_value": 2.0, "step_time_ms": 10.0},
            {"method": "base", "seed": 1, "status": "ok", "primary_value": 2.0, "step_time_ms": 10.0},
            {"method": "new", "seed": 0, "status": "ok", "primary_value": 1.0, "step_time_ms": 30.0, "state_mem_mb": 2.0},
            {"method": "new", "seed": 1, "status": "ok", "primary_value": 2.0, "step_time_ms": 30.0, "state_mem_mb": 2.0},
            {"method": "new", "seed": 2, "status": "diverged", "primary_value": None, "step_time_ms": None},
        ]
    )
    out = aggregate(df, {"s/t": "base"}).set_index("method")
    # new {1, 2} vs base {2, 2}: Welch p = 0.5, so no test separates them: one tie group.
    assert out.loc["new", "rank"] == 1 and out.loc["base", "rank"] == 1
    assert out.loc["new", "p_vs_baseline"] == pytest.approx(0.5) and out.loc["new", "vs_baseline"] == "same"
    assert out.loc["new", "mean"] == 1.5 and out.loc["new", "n"] == 2 and out.loc["new", "failed"] == 1
    assert out.loc["new", "delta_pct"] == pytest.approx(25.0)  # (2 - 1.5) / 2, improvement is positive
    assert out.loc["new", "step_time_ratio"] == pytest.approx(3.0)
    assert out.loc["new", "state_mem_ratio"] == pytest.approx(2.0)
    assert out.loc["new", "ci95"] == pytest.approx(12.706204736174707 * (0.5**0.5) / 2**0.5)
    assert out.loc["base", "ci95"] == 0.0
