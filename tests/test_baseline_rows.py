"""`regsuite results` and `bench` compare against a baseline that ran into another directory
(by default the committed results/baseline) when the summarised directory has none."""

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
