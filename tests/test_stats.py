"""The leaderboard's statistics, each checked against values worked out by hand."""

import json
import math

import pandas as pd
import pytest

from regsuite.scoring import aggregate, format_table
from regsuite.stats import dominance_ranks, expected_best_of_k, holm, welch_p


def test_welch_by_hand():
    # a: mean 2, var 1; b: mean 5.5, var 5/3. se^2 = 1/3 + 5/12 = 0.75, t = -3.5/sqrt(0.75),
    # df = 0.75^2 / ((1/3)^2/2 + (5/12)^2/3) = 0.5625 / (1/18 + 25/432) = 4.9592...
    from scipy import stats

    t = -3.5 / math.sqrt(0.75)
    df = 0.5625 / (1 / 18 + 25 / 432)
    assert welch_p([1, 2, 3], [4, 5, 6, 7]) == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-12)
    assert df == pytest.approx(4.9592, abs=1e-4)


def test_welch_without_spread_compares_exactly_and_refuses_one_seed():
    assert welch_p([0.9842] * 3, [0.9842] * 3) == 1.0
    assert welch_p([0.5] * 3, [0.6] * 3) == 0.0
    assert math.isnan(welch_p([1.0], [1.0, 2.0]))


def test_holm_by_hand():
    # sorted 0.01 (x4 = 0.04), 0.03 (x3 = 0.09), 0.04 (x2 = 0.08 -> running max 0.09), 0.5 (x1)
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    out = holm([0.02, math.nan, 0.9])  # NaN is not part of the family: m = 2
    assert out[0] == pytest.approx(0.04) and math.isnan(out[1]) and out[2] == pytest.approx(0.9)


def test_dominance_ranks_group_methods_that_no_test_separates():
    samples = {
        "a": [1.0, 1.1, 0.9, 1.0, 1.05],
        "b": [0.5, 0.55, 0.45, 0.5, 0.52],
        "c": [0.5, 0.55, 0.45, 0.5, 0.53],
        "d": [0.1, 0.12, 0.09, 0.1, 0.11],
    }
    assert dominance_ranks(samples, "max") == {"a": 1, "b": 2, "c": 2, "d": 4}
    assert dominance_ranks(samples, "min") == {"d": 1, "b": 2, "c": 2, "a": 4}


def test_equal_displayed_values_never_split_a_rank():
    # cutout ranked 5th while sam and sgd ranked 3rd, all showing 0.9842: never again.
    samples = {"sam": [0.98420000001] * 3, "sgd": [0.9842] * 3, "cutout": [0.98419999999] * 3}
    assert set(dominance_ranks(samples, "max").values()) == {1}


def test_expected_best_of_k_by_hand():
    sel, rep = [0.1, 0.3, 0.2], [10.0, 30.0, 20.0]
    # k = 2: subsets {0,1} -> 30, {0,2} -> 20, {1,2} -> 30: mean 80 / 3
    assert expected_best_of_k(sel, rep, 2, "max") == pytest.approx(80 / 3)
    assert expected_best_of_k(sel, rep, 1, "max") == pytest.approx(20.0)
    assert expected_best_of_k(sel, rep, 3, "max") == pytest.approx(30.0)
    # minimising: the best of {0,1} is trial 0 (10), of {0,2} trial 0, of {1,2} trial 2 (20)
    assert expected_best_of_k(sel, rep, 2, "min") == pytest.approx(40 / 3)
    assert math.isnan(expected_best_of_k(sel, rep, 4, "max"))


def _runs(values: dict[str, list[float]], direction="max"):
    rows = []
    for method, vals in values.items():
        for seed, v in enumerate(vals):
            rows.append({"suite": "s", "suite_version": "1", "task": "s/t", "tier": "standard",
                         "protocol": "default", "method": method, "seed": seed, "status": "ok",
                         "primary_metric": "acc", "primary_direction": direction, "primary_value": v,
                         "step_time_ms": 1.0, "wall_s": 1.0, "state_mem_mb": 1.0, "metrics": "{}"})
    return pd.DataFrame(rows)


def test_aggregate_marks_significance_against_the_baseline_with_holm():
    df = _runs({
        "base": [0.80, 0.81, 0.79, 0.80, 0.80],
        "good": [0.90, 0.91, 0.89, 0.90, 0.905],
        "tie": [0.80, 0.815, 0.79, 0.80, 0.805],
        "oracle": [0.99, 0.99, 0.99, 0.99, 0.99],
    })
    out = aggregate(df, {"s/t": "base"}, references={"oracle"}).set_index("method")
    assert out.loc["good", "vs_baseline"] == "better" and out.loc["good", "p_holm"] < 0.05
    assert out.loc["tie", "vs_baseline"] == "same"
    assert out.loc["good", "rank"] == 1 and out.loc["tie", "rank"] == out.loc["base", "rank"] == 2
    # the reference row is scored, never ranked, and outside the Holm family (2 tests, not 3)
    assert bool(out.loc["oracle", "reference"]) and pd.isna(out.loc["oracle", "rank"])
    p_good, p_tie = out.loc["good", "p_vs_baseline"], out.loc["tie", "p_vs_baseline"]
    assert p_good < p_tie  # Holm over m = 2: the smaller p doubles, the larger keeps its own (or the max)
    assert out.loc["good", "p_holm"] == pytest.approx(2 * p_good)
    assert out.loc["tie", "p_holm"] == pytest.approx(max(2 * p_good, p_tie))
    text = format_table(aggregate(df, {"s/t": "base"}, references={"oracle"}))
    assert "▲ p=" in text and "≈ p=" in text and " ref " in text


def test_integer_metrics_print_as_integers():
    from regsuite.scoring import _pm

    assert _pm(13893.3333, float("nan"), integer=True) == "13,893"
    assert _pm(37280.0, 120.0, integer=True) == "37,280 ± 120"


def test_performance_ratios_by_hand():
    from regsuite.suite_scores import performance_ratio

    assert performance_ratio(0.90, 0.95, "max") == pytest.approx(2.0)  # errors 0.10 / 0.05
    assert performance_ratio(12.0, 4.0, "min") == pytest.approx(3.0)
    assert performance_ratio(50.0, 100.0, "max") == pytest.approx(2.0)  # unbounded max metric
    assert performance_ratio(float("nan"), 4.0, "min") == math.inf


def test_suite_scores_are_bounded_and_count_coverage():
    from regsuite.suite_scores import suite_scores

    def task(name, values):
        df = _runs(values, direction="min")
        df["task"] = name
        return df

    runs = pd.concat([
        task("s/t1", {"base": [2.0, 2.1, 1.9], "fast": [1.0, 1.05, 0.95], "ref": [0.1, 0.1, 0.1]}),
        task("s/t2", {"base": [4.0, 4.2, 3.8], "fast": [4.0, 4.1, 3.9]}),
    ])
    agg = aggregate(runs, {"s/t1": "base", "s/t2": "base"}, references={"ref"})
    out = suite_scores(agg).set_index("method")
    assert "ref" not in out.index  # references never enter an aggregate
    # fast: ratio 1 on t1, 1 on t2 (best mean 4.0 vs base 4.0) -> area 1
    # base: ratio 2 on t1 -> (4 - 2) / 3 = 2/3; ratio 1 on t2 -> 1; mean over 2 tasks = 5/6
    assert out.loc["fast", "profile_area"] == pytest.approx(1.0)
    assert out.loc["base", "profile_area"] == pytest.approx(5 / 6)
    # win rate: t1 fast beats base (1.0), t2 they tie (0.5) -> fast 0.75, base 0.25
    assert out.loc["fast", "win_rate"] == pytest.approx(0.75)
    assert out.loc["base", "win_rate"] == pytest.approx(0.25)
    assert (out["tasks_covered"] == 2).all() and (out["n_tasks"] == 2).all()
    # a method that ran 1 of 2 tasks cannot tie for first: its missing task counts as infinitely far
    partial = aggregate(pd.concat([runs, task("s/t1", {"solo": [0.5, 0.52, 0.48]})]),
                        {"s/t1": "base", "s/t2": "base"}, references={"ref"})
    scores = suite_scores(partial).set_index("method")
    assert scores.loc["solo", "tasks_covered"] == 1 and scores.loc["solo", "profile_area"] == pytest.approx(0.5)


def test_budget_curves_by_hand():
    from regsuite.task import Metric
    from regsuite.tuning_curves import budget_curves

    class T:
        primary = Metric("test_acc", "max")
        validation = Metric("val_acc", "max")

    rows = [
        {"run_id": "a", "status": "ok", "metrics": '{"val_acc": 0.1, "test_acc": 0.5}'},
        {"run_id": "b", "status": "ok", "metrics": '{"val_acc": 0.3, "test_acc": 0.7}'},
        {"run_id": "c", "status": "diverged", "metrics": "{}"},
    ]
    df = pd.DataFrame([{**r, "suite": "s", "task": "s/t", "tier": "standard", "method": "m"} for r in rows])
    out = budget_curves(df, {"s/t": T()}).set_index("k")
    # k = 1: one of three at random; the diverged one gives nothing: NaN (not a number to average)
    assert math.isnan(out.loc[1, "expected_test"])
    # k = 2: {a,b} -> b (0.7), {a,c} -> a (0.5), {b,c} -> b (0.7): 1.9 / 3
    assert out.loc[2, "expected_test"] == pytest.approx(1.9 / 3)
    assert out.loc[2, "expected_validation"] == pytest.approx((0.3 + 0.1 + 0.3) / 3)
    assert out.loc[3, "expected_test"] == pytest.approx(0.7) and out.loc[3, "trials"] == 3


def test_rows_of_an_older_method_version_are_not_averaged_in():
    df = _runs({"base": [0.80, 0.81, 0.79], "m": [0.5, 0.5, 0.9]})
    df["method_versions"] = ['{"base": "1"}'] * 3 + ['{"m": "1"}', '{"m": "1"}', '{"m": "2"}']
    df["finished_at"] = ["2026-01-01"] * 5 + ["2026-02-01"]
    out = aggregate(df, {"s/t": "base"}).set_index("method")
    assert out.loc["m", "n"] == 1 and out.loc["m", "mean"] == pytest.approx(0.9)  # v2 only
    assert out.loc["base", "n"] == 3


def test_censored_time_to_target_enters_at_its_budget_and_is_shown_as_a_bound():
    rows = []
    for method, values in {"base": [900.0, 1000.0, None], "fast": [100.0, 120.0, 110.0]}.items():
        for seed, v in enumerate(values):
            metrics = {"target_budget_steps": 4000.0, "target_censored": 0.0 if v else 1.0}
            if v:
                metrics["steps_to_target"] = v
            rows.append({"suite": "g", "suite_version": "1", "task": "g/t", "tier": "standard",
                         "protocol": "default", "method": method, "seed": seed, "status": "ok",
                         "primary_metric": "steps_to_target", "primary_direction": "min", "primary_value": v,
                         "step_time_ms": 1.0, "wall_s": 1.0, "state_mem_mb": 1.0,
                         "metrics": json.dumps(metrics)})
    out = aggregate(pd.DataFrame(rows), {"g/t": "base"}).set_index("method")
    assert out.loc["base", "censored"] == 1 and out.loc["base", "n"] == 3
    assert out.loc["base", "mean"] == pytest.approx((900 + 1000 + 4000) / 3)  # a lower bound
    text = format_table(aggregate(pd.DataFrame(rows), {"g/t": "base"}))
    assert "(2/3 reached)" in text and "≥" in text


def test_the_interval_is_printed_at_the_means_precision():
    from regsuite.scoring import _pm

    assert _pm(1015.0, 20.5426) == "1,015 ± 21"
    assert _pm(0.5, 0.01234) == "0.5000 ± 0.0123"


def test_dominance_ranks_agree_with_scipy_welch_and_holm_by_brute_force():
    import itertools

    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(1)
    for _ in range(100):
        k = int(rng.integers(2, 9))
        samples = {f"m{i}": list(rng.normal(rng.normal(0, 1), rng.uniform(0.05, 1), int(rng.integers(2, 6))))
                   for i in range(k)}
        pairs = list(itertools.combinations(samples, 2))
        q = holm([stats.ttest_ind(samples[a], samples[b], equal_var=False).pvalue for a, b in pairs])
        better = dict.fromkeys(samples, 0)
        for (a, b), qq in zip(pairs, q):
            ma, mb = round(float(np.mean(samples[a])), 4), round(float(np.mean(samples[b])), 4)
            if qq < 0.05 and ma != mb:
                better[b if ma > mb else a] += 1
        assert dominance_ranks(samples, "max") == {n: 1 + c for n, c in better.items()}
