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


def test_a_revised_task_joins_its_suite_board_at_its_newest_revision():
    from regsuite.suite_scores import suite_scores

    def task(name, version, values):
        df = _runs(values, direction="min")
        df["task"], df["suite_version"] = name, version
        return df

    runs = pd.concat([
        task("s/t1", "1", {"base": [2.0, 2.1, 1.9], "fast": [1.0, 1.05, 0.95]}),
        # t2 at revision 2 (the rows a suite board reads) and its revision-1 rows, where fast lost
        task("s/t2", "1+task2", {"base": [4.0, 4.2, 3.8], "fast": [4.0, 4.1, 3.9]}),
        task("s/t2", "1", {"base": [4.0, 4.2, 3.8], "fast": [8.0, 8.1, 7.9]}),
    ])
    agg = aggregate(runs, {"s/t1": "base", "s/t2": "base"})
    assert set(agg["suite_version"]) == {"1", "1+task2"}  # per task, the two revisions are two boards
    out = suite_scores(agg)
    assert set(out["suite_version"]) == {"1"}  # one suite board, both tasks on it
    out = out.set_index("method")
    # As in the test above (revision 2's t2: a tie): fast's ratios 1 and 1, base's 2 and 1.
    assert out.loc["fast", "profile_area"] == pytest.approx(1.0) and out.loc["base", "profile_area"] == pytest.approx(5 / 6)
    assert (out["n_tasks"] == 2).all()


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


def _two_point(mean: float) -> list[float]:
    # mean ± 1: variance 2, n = 2. Two such samples: se^2 = 2, t = delta / sqrt(2), df = 4 / 2 = 2,
    # where the t tail has a closed form: p = 1 - |t| / sqrt(t^2 + 2) = 1 - delta / sqrt(delta^2 + 4).
    return [mean - 1.0, mean + 1.0]


def _p_two_point(delta: float) -> float:
    return 1 - delta / math.sqrt(delta**2 + 4)


def test_holm_step_down_stops_at_the_first_failure_by_hand():
    # Means 0, 8, 16, 60 (m = 6 pairs, alpha = 0.05). Sorted p and (m - s) p:
    # AD 0.000555 x6 = 0.0033, BD 0.000739 x5 = 0.0037, CD 0.001031 x4 = 0.0041, AC 0.007722 x3 = 0.0232,
    # AB and BC 0.029857 x2 = 0.0597 >= alpha: the step-down stops; AB and BC are not separated
    # although each p < alpha. D beats all; C beats A; B ties A and C.
    samples = {"A": _two_point(0), "B": _two_point(8), "C": _two_point(16), "D": _two_point(60)}
    assert welch_p(samples["A"], samples["B"]) == pytest.approx(_p_two_point(8), rel=1e-9)
    assert _p_two_point(8) == pytest.approx(0.029857, abs=1e-6)
    assert _p_two_point(16) == pytest.approx(0.007722, abs=1e-6)
    assert dominance_ranks(samples, "max") == {"D": 1, "C": 2, "B": 2, "A": 3}
    assert dominance_ranks(samples, "min") == {"A": 1, "B": 1, "C": 2, "D": 4}


def test_holm_rejects_a_last_pair_just_under_alpha_by_hand():
    # Means 0, 16, 32, 39: sorted AD 0.001312 x6, AC 0.001947 x5, BD 0.003759 x4, AB and BC
    # 0.007722 x3 and x2, then CD 0.038476 x1 = 0.0385 < alpha: every pair is separated, so the
    # ranks are strict. (Beyond four times alpha / m = 0.033: the bound on p has to grow to alpha.)
    samples = {"A": _two_point(0), "B": _two_point(16), "C": _two_point(32), "D": _two_point(39)}
    assert _p_two_point(7) == pytest.approx(0.038476, abs=1e-6)
    assert dominance_ranks(samples, "max") == {"D": 1, "C": 2, "B": 3, "A": 4}
    # at alpha = 0.03 CD (0.0385) is not rejected: C and D tie
    assert dominance_ranks(samples, "max", alpha=0.03) == {"D": 1, "C": 1, "B": 3, "A": 4}


def _brute_force_ranks(samples, direction, alpha):
    """Every pair's Welch p (scipy.stats), Holm over all (stats.holm), as the scoring rules define them."""
    import itertools

    import numpy as np
    from scipy import stats

    vals = {k: [float(x) for x in v if x is not None and math.isfinite(float(x))] for k, v in samples.items()}
    vals = {k: v for k, v in vals.items() if v}
    pairs = list(itertools.combinations(vals, 2))
    raw = []
    for a, b in pairs:
        x, y = vals[a], vals[b]
        if len(x) < 2 or len(y) < 2:
            raw.append(math.nan)
            continue
        ma, mb = sum(x) / len(x), sum(y) / len(y)
        va = sum((v - ma) ** 2 for v in x) / (len(x) - 1)
        vb = sum((v - mb) ** 2 for v in y) / (len(y) - 1)
        se2 = va / len(x) + vb / len(y)
        if np.isclose(ma, mb, rtol=1e-9, atol=1e-12):  # as the pairwise tests compare means
            raw.append(1.0)
        elif se2 <= 1e-24:
            raw.append(0.0)
        else:  # the tail probability below, all at once
            t = (ma - mb) / math.sqrt(se2)
            df = se2**2 / ((va / len(x)) ** 2 / (len(x) - 1) + (vb / len(y)) ** 2 / (len(y) - 1))
            raw.append((abs(t), df))
    tails = [r for r in raw if isinstance(r, tuple)]
    sf = iter(2 * stats.t.sf([r[0] for r in tails], [r[1] for r in tails])) if tails else iter(())
    raw = [float(next(sf)) if isinstance(r, tuple) else r for r in raw]
    q = holm(raw)
    sign = 1.0 if direction == "max" else -1.0
    shown = {k: round(sign * (sum(v) / len(v)), 4) for k, v in vals.items()}
    better = dict.fromkeys(vals, 0)
    for (a, b), qq in zip(pairs, q):
        if (math.isnan(qq) or qq < alpha) and shown[a] != shown[b]:
            better[b if shown[a] > shown[b] else a] += 1
    return {k: 1 + c for k, c in better.items()}


def test_dominance_ranks_on_large_and_odd_tasks_agree_with_brute_force():
    # Many methods (pairs near the Holm thresholds), widely separated ones (most pairs rejected),
    # one-seed methods, methods without spread, non-finite values, several alphas.
    import numpy as np

    rng = np.random.default_rng(5)
    for case in range(30):
        k = int(rng.choice([2, 3, 6, 20, 60, 100]))
        spread = float(rng.choice([0.05, 1.0, 5.0, 50.0]))
        samples = {}
        for m in range(k):
            n = int(rng.choice([1, 2, 3, 5, 5, 8]))
            mu, sd = rng.normal(0, spread), float(rng.choice([1e-3, 0.3, 1.0]))
            v = list(rng.normal(mu, sd, n))
            r = rng.random()
            if r < 0.05:
                v = [round(mu, 2)] * n
            elif r < 0.08:
                v = v + [math.nan, None, math.inf]
            samples[f"m{m}"] = v
        alpha = float(rng.choice([0.05, 0.01, 0.2]))
        direction = str(rng.choice(["max", "min"]))
        assert dominance_ranks(samples, direction, alpha) == _brute_force_ranks(samples, direction, alpha), case


def test_a_large_task_needs_few_tail_probabilities(monkeypatch):
    # 200 methods x 5 seeds: 19,900 pairs, most with p < alpha, few near Holm's thresholds. Only
    # those (and some the df grid cannot bound) get an exact tail probability (the step-down's decisions need nothing else), and the
    # ranks are those of testing every pair. (Since regsuite.t_tail, scipy's stdtr decides only a
    # comparison within the margin: here none.)
    import numpy as np
    import scipy.special

    rng = np.random.default_rng(11)
    samples = {f"m{i}": list(rng.normal(rng.normal(0, 1), 0.1, 5)) for i in range(200)}
    computed = []
    real = scipy.special.stdtr

    def counting(df, x):
        computed.append(np.size(x))
        return real(df, x)

    monkeypatch.setattr(scipy.special, "stdtr", counting)
    ranks = dominance_ranks(samples, "max")
    monkeypatch.setattr(scipy.special, "stdtr", real)
    assert ranks == _brute_force_ranks(samples, "max", 0.05)
    # 18,077 pairs have p < alpha (all of them computed before); here about 2,100 are.
    assert sum(computed) < 0.2 * 18_077, sum(computed)


def test_tail_bounds_are_never_wrong():
    import numpy as np
    from scipy.special import stdtr

    from regsuite.stats import _df_levels, surely

    rng = np.random.default_rng(2)
    t = np.abs(rng.standard_cauchy(20_000)) * 3
    df = np.exp(rng.uniform(0, 9, 20_000))
    p = 2 * stdtr(df, -t)
    for y in (1e-9, 6e-7, 1e-3, 0.05, 0.5):
        below, above = surely("below", t, _df_levels(df), y), surely("above", t, _df_levels(df), y)
        assert (p[below] < y).all() and (p[above] >= y).all()
        assert below.sum() + above.sum() > 0.5 * len(t)  # and they decide most pairs


def test_ranking_a_large_task_imports_no_scipy():
    # The decisions come from regsuite.t_tail; scipy.special (0.15-0.3 s CPU to import) only when one
    # is within the margin. 300 methods x 5 seeds: 44,850 pairs, most of them significant.
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from regsuite.stats import dominance_ranks\n"
        "rng = np.random.default_rng(4)\n"
        "s = {f'm{i}': list(rng.normal(rng.normal(0, 1), 0.1, 5)) for i in range(300)}\n"
        "r = dominance_ranks(s, 'max')\n"
        "print(len(set(r.values())) > 50, 'scipy.special' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False"]


def _random_task(rng):
    import numpy as np

    k = int(rng.choice([3, 20, 60, 150]))
    spread = float(rng.choice([0.05, 1.0, 5.0]))
    samples = {}
    for m in range(k):
        n = int(rng.choice([1, 2, 3, 5, 5, 11]))
        samples[f"m{m}"] = list(rng.normal(rng.normal(0, spread), float(rng.choice([1e-3, 0.3, 1.0])), n))
    return samples, float(rng.choice([0.05, 0.01, 0.2])), str(rng.choice(["max", "min"]))


def test_ranks_stay_exact_with_a_tail_that_errs_within_the_margin(monkeypatch):
    # Each approximate p off by up to a tenth of the margin, at random: every decision is still exact
    # (the step-down checks each comparison against the margin, or lets scipy decide).
    import numpy as np

    import regsuite.t_tail as t_tail

    real = t_tail.log_tail
    noise = np.random.default_rng(8)

    def erring(t_abs, df):
        log_p, ok = real(t_abs, df)
        return log_p + noise.uniform(-0.1, 0.1, np.shape(log_p)) * t_tail.MARGIN, ok

    import regsuite.stats as stats

    monkeypatch.setattr(t_tail, "log_tail", erring)
    rng = np.random.default_rng(9)
    monkeypatch.setattr(stats, "_DIRECT_MAX", 0)  # the df grid's critical values too, on every task
    for case in range(12):
        samples, alpha, direction = _random_task(rng)
        assert dominance_ranks(samples, direction, alpha) == _brute_force_ranks(samples, direction, alpha), case


def test_a_comparison_within_the_margin_goes_to_scipy(monkeypatch):
    # With a margin of 50% nearly every step-down has a comparison within it: scipy decides, exactly.
    import numpy as np
    import scipy.special

    import regsuite.t_tail as t_tail

    import regsuite.stats as stats

    monkeypatch.setattr(t_tail, "MARGIN", 0.5)
    monkeypatch.setattr(stats, "_DIRECT_MAX", 0)
    calls = []
    real = scipy.special.stdtr
    monkeypatch.setattr(scipy.special, "stdtr", lambda df, x: calls.append(1) or real(df, x))
    rng = np.random.default_rng(10)
    for case in range(15):
        samples, alpha, direction = _random_task(rng)
        assert dominance_ranks(samples, direction, alpha) == _brute_force_ranks(samples, direction, alpha), case
    assert calls
