"""The tuning protocol: quasi-random trials, selection on validation only, final seeds, stored apart."""

from __future__ import annotations

import json
import math

import pytest

from faults_cli import invoke as _invoke

from regsuite.store import Store


def test_tune_selects_on_validation_and_reruns_the_choice(tmp_path):
    from scipy.stats import qmc

    res = _invoke("tune", "--task", "faults/probe", "--method", "probe-opt", "--trials", "8", "--seeds", "2",
                  "--out", str(tmp_path), "--quiet")
    assert res.exit_code == 0, res.output

    # Trials: the defaults (lr 0.1, spare 0.5), then the first 7 scrambled Sobol points of seed 0.
    # probe-opt is the task's baseline, so it searches the lr window the methods measured against
    # it get (log-uniform on [0.1 / 10, 0.1 * 10], mapped by hand); spare stays at its default.
    u = qmc.Sobol(1, scramble=True, seed=0).random(7)
    want_lr = [0.1] + [10 ** (-2 + 2 * a) for a in u[:, 0]]
    trials = Store(tmp_path / "tuning").runs()
    assert len(trials) == 8 and set(trials["protocol"]) == {"tuning-trial"} and set(trials["seed"]) == {10_000}
    got = sorted((json.loads(h)["probe-opt"]["lr"], json.loads(h)["probe-opt"]["spare"]) for h in trials["hparams"])
    want = sorted(zip(want_lr, [0.5] * 8))
    assert [x for pair in got for x in pair] == pytest.approx([float(x) for pair in want for x in pair])

    # Selection on val_score = -(log10 lr + 2)^2 (the probe's closed form), never on test_score.
    by_val = max(want_lr, key=lambda lr: -((math.log10(lr) + 2) ** 2))
    by_test = max(want_lr, key=lambda lr: -((math.log10(lr) + 0.5) ** 2))
    assert by_val != by_test  # the two metrics disagree on these points, so the check below means something
    record_file = tmp_path / "tuning" / "selections" / "faults_probe__probe-opt__tuned_sobol-8+default.json"
    record = json.loads(record_file.read_text())
    assert record["selected"]["hparams"]["probe-opt"]["lr"] == pytest.approx(by_val)
    assert record["protocol"] == "tuned:sobol-8+default" and record["validation_metric"] == "val_score"
    assert record["budget"]["total_steps"] == 8 and len(record["trial_runs"]) == 8
    assert record["space"] == {"probe-opt.lr": "loguniform(0.01, 1.0)"}

    # Final runs: the chosen configuration on seeds 0 and 1, in the main store, under the tuned protocol.
    finals = Store(tmp_path).runs()
    assert len(finals) == 2 and sorted(finals["seed"]) == [0, 1]
    assert set(finals["protocol"]) == {"tuned:sobol-8+default"}
    assert {json.dumps(json.loads(h), sort_keys=True) for h in finals["hparams"]} == {
        json.dumps(record["selected"]["hparams"], sort_keys=True)
    }

    # Tuned and default numbers stay apart in results.
    assert _invoke("bench", "--task", "faults/probe", "--seeds", "2", "--out", str(tmp_path), "--quiet").exit_code == 0
    from regsuite.scoring import aggregate

    agg = aggregate(Store(tmp_path).runs())
    assert sorted(agg["protocol"]) == ["default", "tuned:sobol-8+default"] and list(agg["n"]) == [2, 2]
    again = _invoke("tune", "--task", "faults/probe", "--method", "probe-opt", "--trials", "8", "--seeds", "2",
                    "--out", str(tmp_path), "--quiet")
    assert "2 final runs (tuned:sobol-8+default): 2 cached" in again.stderr  # trials and finals are cached too


def test_halton_and_fixed_hyperparameters(tmp_path):
    res = _invoke("tune", "--task", "faults/probe", "--trials", "3", "--sampler", "halton", "--seeds", "1",
                  "--hp", "probe-opt.spare=0.25", "--out", str(tmp_path), "--quiet")
    assert res.exit_code == 0, res.output
    trials = Store(tmp_path / "tuning").runs()
    assert {json.loads(h)["probe-opt"]["spare"] for h in trials["hparams"]} == {0.25}  # fixed, not tuned
    assert len({json.loads(h)["probe-opt"]["lr"] for h in trials["hparams"]}) == 3
    assert set(Store(tmp_path).runs()["protocol"]) == {"tuned:halton-3+default"}


def test_nothing_left_to_tune_is_refused(tmp_path):
    res = _invoke("tune", "--task", "faults/probe", "--hp", "probe-opt.lr=0.1", "--hp", "probe-opt.spare=0.5",
                  "--out", str(tmp_path))
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: probe-opt on faults/probe has no search space left to tune"


def test_an_implied_optimizer_is_tuned_on_its_learning_rate_only():
    from regsuite.plan import build_plan
    from regsuite.registry import build_registry
    from regsuite.tune import LR_WINDOW, search_dims

    reg = build_registry()
    (spec,) = build_plan(reg, tasks=["digits-mlp"], methods=["l2"], seeds=1).runs
    optimizer = reg.tasks[spec.task].default_optimizer
    assert spec.components[-1] == optimizer  # the plan added the task's optimizer
    dims = {(c, k): p for c, k, p in search_dims(reg, spec, set())}
    assert set(dims) == {("l2", k) for k in reg.method("l2").space} | {(optimizer, "lr")}
    lr = spec.hparams[optimizer]["lr"]
    window = dims[(optimizer, "lr")]
    assert (window.low, window.high) == pytest.approx((lr / LR_WINDOW, lr * LR_WINDOW))
    # an optimizer under test is tuned over its whole declared space
    (own,) = build_plan(reg, tasks=["digits-mlp"], methods=["adamw"], seeds=1).runs
    assert {k for c, k, _ in search_dims(reg, own, set())} == set(reg.method("adamw").space)


def test_the_baseline_optimizer_searches_the_same_lr_window_as_the_methods_measured_against_it():
    from regsuite.plan import build_plan
    from regsuite.registry import build_registry
    from regsuite.tune import LR_WINDOW, search_dims

    reg = build_registry()
    task = reg.task("digits-mlp")
    (base,) = build_plan(reg, tasks=["digits-mlp"], methods=[task.baseline], seeds=1).runs
    assert reg.method(task.baseline).family == "optimizer" and len(reg.method(task.baseline).space) > 1
    dims = search_dims(reg, base, set(), baseline=task.baseline)
    assert [(c, k) for c, k, _ in dims] == [(task.baseline, "lr")]
    lr = base.hparams[task.baseline]["lr"]
    assert (dims[0][2].low, dims[0][2].high) == pytest.approx((lr / LR_WINDOW, lr * LR_WINDOW))
    # the same optimizer on a task where it is not the baseline keeps its whole declared space
    assert len(search_dims(reg, base, set(), baseline="adamw")) == len(reg.method(task.baseline).space)
    # a baseline that is not an optimizer (continual's naive) keeps its own space plus the lr window
    ctask = reg.task("continual/split-mnist1d-class")
    (naive,) = build_plan(reg, tasks=[ctask.key()], methods=[ctask.baseline], seeds=1).runs
    cdims = search_dims(reg, naive, set(), baseline=ctask.baseline)
    assert (ctask.default_optimizer, "lr") in {(c, k) for c, k, _ in cdims}


def test_selection_on_time_to_target_ranks_censored_trials_last_by_their_closeness():
    from types import SimpleNamespace

    from regsuite import Metric
    from regsuite.target import Target
    from regsuite.tune import select

    task = SimpleNamespace(validation=Metric("steps_to_target", "min"),
                           target=Target("val_accuracy", 0.95, "max", axis="steps", stop_early=True))

    def row(name, status="ok", **metrics):
        return {"run_id": name, "status": status, "metrics": json.dumps(metrics)}

    rows = [
        row("never-close", target_censored=1.0, val_accuracy=0.40),
        row("slow", steps_to_target=1500.0, target_censored=0.0, val_accuracy=0.96),
        row("fast", steps_to_target=400.0, target_censored=0.0, val_accuracy=0.95),
        row("fast-too", steps_to_target=400.0, target_censored=0.0, val_accuracy=0.99),
        row("crashed", status="error", steps_to_target=10.0),
    ]
    assert select(task, rows)["run_id"] == "fast"  # fewest steps; first one on ties; errors ignored
    censored = [rows[0], row("nearly", target_censored=1.0, val_accuracy=0.90), row("nan", target_censored=1.0,
                                                                                   val_accuracy=float("nan"))]
    assert select(task, censored)["run_id"] == "nearly"  # none reached: the closest at the end
    assert select(task, [rows[1], *censored])["run_id"] == "slow"  # any reached beats every censored
    # the summary line of a selection that never reached the target (a formatting crash before)
    from regsuite.tune import selected_value_text

    assert selected_value_text(task, select(task, censored)) == "not reached (val_accuracy 0.9000)"
    assert selected_value_text(task, select(task, rows)) == "400.0000"
