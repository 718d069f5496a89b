"""scoring.aggregate's small-table path (plain lists) against its pandas group-by path, to the last bit."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import pandas as pd
import pytest

from regsuite.scoring import _aggregate_frame, aggregate, format_table
from regsuite.scoring_small import aggregate_small, table_of_columns
from regsuite.site.synthetic import run_row

sys.path.insert(0, str(Path(__file__).parent))
from test_scoring_speed import fixture_runs  # noqa: E402

BASELINES = {"s0/task-0": "sgd", "s1/task-1": "sgd", "s0/task-2": "sgd", "grok/mod-add": "sgd", "s/t": "sgd",
             "s/u": "adam"}


def both(runs, references=frozenset(), alpha=0.05):
    small = aggregate_small(runs, BASELINES, set(references), alpha)
    assert small is not None, "left to the pandas path: this case does not test the small one"
    frame = _aggregate_frame(runs, BASELINES, set(references), alpha)
    pd.testing.assert_frame_equal(small, frame, check_exact=True)
    for fmt in ("table", "markdown", "csv", "json"):
        assert format_table(small, fmt) == format_table(frame, fmt)
    # A cached bench's table: the runs as Arrow gives them (lists, None for missing), no DataFrame.
    import pyarrow as pa

    table = pa.Table.from_pandas(runs, preserve_index=False)
    on_lists = table_of_columns({c: table.column(c).to_pylist() for c in table.column_names}, BASELINES,
                                set(references), alpha)
    if on_lists is not None:
        assert on_lists == (format_table(frame, "table"), len(frame))
    return small


def test_a_hand_worked_table():
    rows = [run_row("a", "s", "s/t", "sgd", 0, 0.5, step_time_ms=2.0), run_row("b", "s", "s/t", "sgd", 1, 0.7,
                                                                                step_time_ms=4.0),
            run_row("c", "s", "s/t", "adam", 0, 0.9, step_time_ms=9.0),
            run_row("d", "s", "s/t", "adam", 1, None, status="diverged")]
    out = both(pd.DataFrame(rows)).set_index("method")
    assert out.loc["sgd", "mean"] == pytest.approx(0.6) and out.loc["sgd", "n"] == 2
    # 95% CI half-width: t(0.975, df=1) * sd / sqrt(n) = 12.7062047 * 0.1414214 / 1.4142136 = 1.2706205
    assert out.loc["sgd", "ci95"] == pytest.approx(1.2706205, rel=1e-6)
    assert out.loc["adam", "n"] == 1 and out.loc["adam", "failed"] == 1 and math.isnan(out.loc["adam", "ci95"])
    assert out.loc["adam", "delta_pct"] == pytest.approx((0.9 - 0.6) / 0.6 * 100)  # max: +50%
    assert out.loc["adam", "step_time_ratio"] == pytest.approx(9.0 / 3.0)
    assert out.loc["sgd", "vs_baseline"] == "" and out.loc["adam", "vs_baseline"] == ""  # one seed: untestable


def test_the_golden_fixture():
    out = both(fixture_runs(), references={"oracle"})  # both() asserts the two paths equal
    assert len(out) == len(out.drop_duplicates(["task", "protocol", "method"]))  # one row per group


def test_rows_in_group_order_take_reduceat_others_the_kahan_kernel():
    """pandas sums a NaN-free column of group-ordered rows with np.add.reduceat, else with a Kahan loop: the
    two round differently (0.1 + 0.2 + 0.3 style values), and both paths must follow."""
    rng = random.Random(5)
    rows = [run_row(f"r{i}", "s", "s/t", m, i, rng.uniform(0, 1), step_time_ms=rng.uniform(1, 9))
            for i, m in enumerate(["adam"] * 5 + ["sgd"] * 7)]
    ordered = pd.DataFrame(rows)
    assert len(both(ordered)) == 2                        # monotonic groups, no NaN: reduceat
    both(ordered.sample(frac=1, random_state=3))          # shuffled: Kahan
    rows[3]["status"], rows[3]["primary_value"] = "error", None
    both(pd.DataFrame(rows))                              # a NaN in the value column: Kahan for it alone


def test_censored_several_versions_references_protocols_and_missing_keys():
    rows = []
    for m_i, m in enumerate(["sgd", "adam", "lion", "oracle"]):
        for seed in range(3):
            censored = m == "lion" and seed < 2
            row = run_row(f"g-{m}-{seed}", "s", "s/t", m, seed, None if censored else 100.0 + 10 * m_i + seed,
                          metric="steps_to_target", direction="min")
            if censored:
                row["metrics"] = json.dumps({"target_censored": 1.0, "target_budget_steps": 400.0})
            rows.append(row)
    for seed in range(2):  # an older adam, finished earlier: not scored
        row = run_row(f"old-{seed}", "s", "s/t", "adam", seed, 1.0, metric="steps_to_target", direction="min",
                      finished_at="2025-01-01T00:00:00Z")
        row["method_versions"] = json.dumps({"adam": "0"})
        rows.append(row)
    rows += [run_row(f"p-{m}-{s}", "s", "s/u", m, s, 0.5 + 0.1 * s, protocol="tuned") for m in ("adam", "sgd")
             for s in range(3)]
    rows.append(run_row("nan-protocol", "s", "s/u", "adam", 9, 0.4))
    rows[-1]["protocol"] = None
    rows.append(run_row("timeout", "s", "s/u", "sgd", 8, None, status="timeout"))
    runs = pd.DataFrame(rows)
    out = both(runs, references={"oracle"})
    assert out["protocol"].isna().sum() == 1  # the missing protocol is its own group, last
    assert (out["censored"] > 0).sum() == 1


@pytest.mark.parametrize("seed", range(40))
def test_random_tables(seed):
    rng = random.Random(seed)
    rows = []
    for t in range(rng.randint(1, 3)):
        task = rng.choice(["s/t", "s/u", "s0/task-0"])
        direction = rng.choice(["max", "min"])
        for m in rng.sample(["sgd", "adam", "lion", "sam", "oracle"], rng.randint(1, 5)):
            for s in range(rng.randint(1, 5)):
                status = rng.choice(["ok"] * 6 + ["diverged", "error", "timeout"])
                value = rng.choice([rng.gauss(0.8, 0.05), round(rng.gauss(0.8, 0.05), 2), 0.75])
                rows.append(run_row(f"{t}-{m}-{s}-{len(rows)}", task.split("/")[0], task, m, s, value,
                                    direction=direction, status=status, step_time_ms=rng.uniform(0.5, 3),
                                    state_mem_mb=rng.choice([0.0, rng.uniform(1, 2)]),
                                    protocol=rng.choice(["default", "default", "tuned"])))
    runs = pd.DataFrame(rows)
    if rng.random() < 0.5:
        runs = runs.sample(frac=1, random_state=seed)
    out = both(runs, references={"oracle"} if rng.random() < 0.5 else set(), alpha=rng.choice([0.05, 0.2]))
    assert out["n"].sum() + out["failed"].sum() <= len(runs)  # both() asserts the paths equal; no row counted twice


def test_a_small_table_is_scored_without_pandas_group_by(monkeypatch):
    runs = fixture_runs()
    runs = runs[~runs["run_id"].str.contains("-old-")]  # one version per method (several: pandas' rule)
    expected = _aggregate_frame(runs, BASELINES, {"oracle"}, 0.05)
    monkeypatch.setattr(pd.DataFrame, "groupby", lambda *a, **k: pytest.fail("group-by"))
    monkeypatch.setattr(pd.Series, "groupby", lambda *a, **k: pytest.fail("group-by"))
    pd.testing.assert_frame_equal(aggregate(runs, BASELINES, {"oracle"}), expected, check_exact=True)


def test_the_list_table_leaves_censored_runs_and_several_versions_to_pandas():
    import pyarrow as pa

    runs = fixture_runs()  # holds censored runs and a method with an old version
    table = pa.Table.from_pandas(runs, preserve_index=False)
    columns = {c: table.column(c).to_pylist() for c in table.column_names}
    assert table_of_columns(columns, BASELINES, {"oracle"}, 0.05) is None
