"""`regsuite results` and `bench` compare against a baseline that ran into another directory
(by default the committed results/baseline) when the summarised directory has none."""

import json
import statistics

import pytest
from click.testing import CliRunner

from regsuite.baseline_rows import COMMITTED, baseline_source
from regsuite.cli import cli
from regsuite.store import Store

P = ["-p", "task_contract_plugin"]
TASK = "contract/bare-loop"


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("baseline-rows")
    for method, name in (("sgd", "base"), ("adamw", "mine")):
        out = CliRunner().invoke(cli, [*P, "bench", "--task", TASK, "--method", method, "--seeds", "2",
                                       "--out", str(root / name), "--quiet"])
        assert out.exit_code == 0, out.output
    return root / "base", root / "mine"


def mean_value(path, method):
    runs = Store(path).runs()
    return statistics.mean(runs[runs["method"] == method]["primary_value"])


def row_of(output, method):
    return next(line.split() for line in output.splitlines() if line.split()[:3] == [TASK, "smoke", method])


def test_results_take_the_baseline_from_another_directory(dirs):
    base, mine = dirs
    out = CliRunner().invoke(cli, [*P, "results", "--results", str(mine), "--baselines", str(base)])
    assert out.exit_code == 0, out.output
    # final_loss is minimised: delta = -(mean - baseline mean) / |baseline mean| * 100
    b, m = mean_value(base, "sgd"), mean_value(mine, "adamw")
    expected = f"{-(m - b) / abs(b) * 100:+.2f}%"
    assert expected in row_of(out.output, "adamw")
    assert row_of(out.output, "sgd")[3] == "final_loss"
    assert f"note: {TASK}: baseline sgd taken from {base} (2 runs)" in out.output
    # the author's directory is only read from, never written to
    assert set(Store(mine).runs()["method"]) == {"adamw"}


def test_without_a_baseline_source_the_change_stays_unknown(dirs):
    _, mine = dirs
    out = CliRunner().invoke(cli, [*P, "results", "--results", str(mine), "--baselines", "none"])
    assert out.exit_code == 0, out.output
    assert row_of(out.output, "adamw")[-2:] == ["—", "—"]
    assert "note:" not in out.output


def test_a_baseline_source_without_results_is_refused(dirs, tmp_path):
    _, mine = dirs
    out = CliRunner().invoke(cli, [*P, "results", "--results", str(mine), "--baselines", str(tmp_path)])
    assert out.exit_code == 2 and f"error: --baselines {tmp_path}: no results there" in out.output


def test_default_source_is_the_committed_baselines_unless_summarised_itself(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert baseline_source(None, [tmp_path / "mine"]) is None  # no committed baselines here
    (COMMITTED / "runs").mkdir(parents=True)
    assert baseline_source(None, [tmp_path / "mine"]) == COMMITTED
    assert baseline_source(None, [COMMITTED]) is None
    assert baseline_source("none", [tmp_path / "mine"]) is None


def test_a_group_with_another_suite_version_gets_no_baseline(dirs, tmp_path):
    import pandas as pd

    from regsuite.baseline_rows import with_baselines

    base, mine = dirs
    runs = Store(mine).runs()
    runs["suite_version"] = "2"  # the committed baseline ran under suite version 1
    merged, added = with_baselines(runs, {TASK: "sgd"}, Store(base))
    assert added == [] and len(merged) == len(runs)
    merged, added = with_baselines(Store(mine).runs(), {TASK: "sgd"}, Store(base))
    assert added == [(TASK, "sgd", 2)] and isinstance(merged, pd.DataFrame) and len(merged) == 4


def test_only_the_missing_groups_baseline_rows_are_read_and_in_the_columns_scoring_needs(tmp_path, monkeypatch):
    """A bench's table reads the committed store for a few rows: it must not read (and decode) all of it."""
    from regsuite.baseline_rows import with_baselines
    from regsuite.site.synthetic import run_row

    src = Store(tmp_path / "src")
    rows = [run_row("b1", "s", "s/t", "sgd", 0, 0.5), run_row("b2", "s", "s/t", "sgd", 1, 0.7),
            run_row("b3", "s", "s/t", "adam", 0, 0.9),                        # not the baseline method
            run_row("b4", "s", "s/t", "sgd", 2, 0.1, version="2"),            # another suite version
            run_row("b5", "s", "s/u", "sgd", 0, 0.2),                         # a task the table lacks
            run_row("b6", "s", "s/t", "sgd", 3, None, status="diverged")]     # counted: the baseline's failure
    rows[1]["metrics"] = '{"test_accuracy": 0.7, "target_budget_steps": 40.0}'
    src.append(rows)
    mine = pd_frame([run_row("m1", "s", "s/t", "lion", 0, 0.8), run_row("m2", "s", "s/v", "lion", 0, 0.3)])
    calls = []
    real = Store.runs

    def spy(self, run_ids=None, columns=None):
        calls.append((None if run_ids is None else set(run_ids), None if columns is None else set(columns)))
        return real(self, run_ids, columns)

    monkeypatch.setattr(Store, "runs", spy)
    merged, added = with_baselines(mine, {"s/t": "sgd", "s/v": "sgd", "s/u": "sgd"}, src)
    assert added == [("s/t", "sgd", 3)]  # s/v has no sgd rows anywhere: nothing added, no note
    assert sorted(merged["run_id"]) == ["b1", "b2", "b6", "m1", "m2"]
    assert json.loads(merged.set_index("run_id").loc["b2", "metrics"]) == {"test_accuracy": 0.7,
                                                                         "target_budget_steps": 40.0}
    assert len(calls) == 1 and calls[0][1] is not None  # one read, never of every column
    assert "notes" not in calls[0][1] and "metrics" in calls[0][1]  # what scoring reads
    calls.clear()
    with_baselines(mine, {"s/t": "lion", "s/v": "lion"}, src)  # every group has its baseline: nothing read
    assert calls == []


def pd_frame(rows):
    """Rows as bench's table reads its own runs: scoring's columns without ``metrics``."""
    import pandas as pd

    from regsuite.scoring import INPUT_COLUMNS

    return pd.DataFrame(rows)[["run_id", *(c for c in INPUT_COLUMNS if c != "metrics")]]
