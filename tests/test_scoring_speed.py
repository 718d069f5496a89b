"""scoring.aggregate and format_table after their speed-ups: the same output as before, to the last bit.

``tests/data/aggregate_golden.csv`` is what ``aggregate()`` returned on :func:`fixture_runs` before the
speed-ups (core/scoring.py at f5e37a1: ``groupby().apply(list)``, one ``.loc`` write per method,
``scipy.stats.t.ppf``), written with ``to_csv`` (floats as ``repr``, so every bit is compared);
``format_table_golden.txt`` is what ``format_table()`` printed for it then (pandas ``to_string``).
The fixture covers both directions, a baseline, a reference row, failed and censored seeds, a single
seed, an old method version and an untestable method.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from regsuite.scoring import aggregate, format_table
from regsuite.site.synthetic import run_row

GOLDEN = Path(__file__).parent / "data" / "aggregate_golden.csv"
GOLDEN_TEXT = Path(__file__).parent / "data" / "format_table_golden.txt"  # format_table() on the same fixture (intervals at the mean's precision since)


def fixture_runs() -> pd.DataFrame:
    rng = random.Random(18)
    rows = []
    methods = ["sgd", "adam", "lion", "sam", "oracle", "solo", "flat", "half"]
    for t, direction in enumerate(["max", "min", "max"]):
        task = f"s{t % 2}/task-{t}"
        metric = "test_accuracy" if direction == "max" else "val_loss"
        for m_i, m in enumerate(methods):
            seeds = 1 if m == "solo" else 5
            for seed in range(seeds):
                value = 0.8 + 0.004 * m_i * (1 if direction == "max" else -1) + rng.gauss(0, 0.01)
                if m == "flat":
                    value = 0.81  # no spread: compared exactly
                status = "diverged" if (m == "half" and seed % 2) or rng.random() < 0.05 else "ok"
                rows.append(run_row(f"{t}-{m}-{seed}", task.split("/")[0], task, m, seed, value, metric=metric,
                                    direction=direction, status=status, step_time_ms=1 + m_i + rng.random(),
                                    state_mem_mb=1 + rng.random(), finished_at=f"2026-01-02T00:00:{seed:02d}Z"))
        # an older version of adam, finished earlier: not scored
        for seed in range(3):
            row = run_row(f"{t}-adam-old-{seed}", task.split("/")[0], task, "adam", seed, 0.1, metric=metric,
                          direction=direction, finished_at="2025-01-01T00:00:00Z")
            row["method_versions"] = json.dumps({"adam": "0"})
            rows.append(row)
    # time to target with censored seeds (ok, no primary value, entered at the budget)
    for m_i, m in enumerate(["sgd", "adam", "lion"]):
        for seed in range(4):
            censored = m != "sgd" and seed < m_i
            value = None if censored else 1000.0 + 100 * m_i + 10 * seed
            row = run_row(f"g-{m}-{seed}", "grok", "grok/mod-add", m, seed, value, metric="steps_to_target",
                          direction="min")
            row["metrics"] = json.dumps({"target_censored": 1.0, "target_budget_steps": 4000.0} if censored
                                        else {"steps_to_target": value})
            rows.append(row)
    return pd.DataFrame(rows)


BASELINES = {"s0/task-0": "sgd", "s1/task-1": "sgd", "s0/task-2": "adam", "grok/mod-add": "sgd"}


def test_aggregate_is_bit_for_bit_what_it_was_before_the_speed_ups():
    got = aggregate(fixture_runs(), BASELINES, {"oracle"}).to_csv(index=False)
    assert got == GOLDEN.read_text()


def test_fixture_values_by_hand():
    """A few golden cells recomputed here from the fixture, so the golden file is not only trusted."""
    runs = fixture_runs()
    out = aggregate(runs, BASELINES, {"oracle"}).set_index(["task", "method"])
    ok = runs[(runs["status"] == "ok") & (runs["method_versions"] != json.dumps({"adam": "0"}))]
    lion = ok[(ok["task"] == "s0/task-0") & (ok["method"] == "lion")]["primary_value"].tolist()
    n = len(lion)
    mean = sum(lion) / n
    sd = (sum((v - mean) ** 2 for v in lion) / (n - 1)) ** 0.5
    textbook_t = {2: 4.303, 3: 3.182, 4: 2.776}[n - 1]  # t_(0.975, df) from any printed table
    assert out.loc[("s0/task-0", "lion"), "mean"] == pytest.approx(mean, rel=1e-12)
    assert out.loc[("s0/task-0", "lion"), "ci95"] == pytest.approx(textbook_t * sd / n**0.5, rel=2e-4)
    assert out.loc[("s0/task-0", "solo"), "n"] == 1 and pd.isna(out.loc[("s0/task-0", "solo"), "ci95"])
    assert out.loc[("s0/task-0", "oracle"), "reference"] and pd.isna(out.loc[("s0/task-0", "oracle"), "rank"])
    assert pd.isna(out.loc[("s0/task-0", "solo"), "p_vs_baseline"])  # one seed: untestable
    assert out.loc[("s0/task-0", "adam"), "n"] + out.loc[("s0/task-0", "adam"), "failed"] == 5  # old version left out
    # grok: lion has 2 of 4 seeds censored, entered at the 4,000-step budget
    assert out.loc[("grok/mod-add", "lion"), "censored"] == 2
    assert out.loc[("grok/mod-add", "lion"), "mean"] == pytest.approx((4000 * 2 + 1220 + 1230) / 4)


def test_format_table_text_is_what_it_was_before_the_speed_ups():
    agg = aggregate(fixture_runs(), BASELINES, {"oracle"})
    assert format_table(agg) + "\n" == GOLDEN_TEXT.read_text()


def test_format_table_text_is_what_pandas_to_string_gives():
    agg = aggregate(fixture_runs(), BASELINES, {"oracle"})
    text = format_table(agg)
    import regsuite.scoring as scoring

    shown = scoring._shown(agg)
    assert text.split("\n")[: len(agg) + 1] == shown.to_string(index=False).split("\n")


def test_scoring_a_one_method_plan_does_not_import_scipy_stats():
    """scipy.stats costs about a CPU second to import: more than a cached re-check may take in all.

    (Plans with several methods still import it: the Welch tests live in regsuite.stats.)
    """
    code = ("import sys; sys.path.insert(0, %r); from test_scoring_speed import fixture_runs; "
            "from regsuite.scoring import aggregate, format_table; runs = fixture_runs(); "
            "print(format_table(aggregate(runs[runs['method'] == 'lion'], {}))); "
            "print('scipy.stats' in sys.modules)") % str(Path(__file__).parent)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "lion" in out and out.strip().splitlines()[-1] == "False"


def test_results_with_a_task_filter_reads_the_store_once(tmp_path, monkeypatch):
    """`results --task T` checks T against the stored names and prints from the same rows (was two full reads)."""
    from click.testing import CliRunner

    from regsuite.cli import cli
    from regsuite.site.synthetic import write_synthetic
    from regsuite.store import Store

    write_synthetic(tmp_path, 40, suites=1, tasks_per_suite=2, seeds=2, curve_points=1)
    reads = []
    real = Store.runs
    monkeypatch.setattr(Store, "runs", lambda self, run_ids=None: reads.append(run_ids) or real(self, run_ids))
    res = CliRunner().invoke(cli, ["results", "--results", str(tmp_path), "--task", "task-01", "--baselines", "none"])
    assert res.exit_code == 0, res.output
    assert "suite0/task-01" in res.stdout and "suite0/task-00" not in res.stdout
    assert reads == [None]
