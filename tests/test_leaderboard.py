"""The leaderboard command: applicable methods, the tuned track and the defaults track, resumable."""

from __future__ import annotations

from click.testing import CliRunner
from faults_cli import invoke as _invoke

from regsuite.cli import cli
from regsuite.store import Store


def test_leaderboard_runs_both_tracks_and_resumes(tmp_path):
    args = ("leaderboard", "--tier", "smoke", "--task", "faults/probe", "--method", "probe-opt", "--trials", "3",
            "--seeds", "2", "--default-seeds", "1", "--defaults-track", "all", "--out", str(tmp_path), "--quiet")
    dry = _invoke(*args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "faults/probe" in dry.stderr and "total: 6 runs" in dry.stderr  # 1 method x (3 + 2 + 1)
    assert not (tmp_path / "runs").exists()  # a dry run runs nothing
    assert "on no board" not in dry.stderr  # listed only for the whole tier, not for a chosen task

    res = _invoke(*args)
    assert res.exit_code == 0, res.output
    assert len(Store(tmp_path / "tuning").runs()) == 3
    runs = Store(tmp_path).runs()
    assert sorted(runs["protocol"]) == ["default", "tuned:sobol-3+default", "tuned:sobol-3+default"]
    again = _invoke(*args)
    assert again.exit_code == 0 and len(Store(tmp_path).runs()) == 3  # everything cached, nothing repeated


def test_a_method_identical_to_the_baseline_at_its_defaults_is_flagged(tmp_path):
    # idle-reg adds a constant penalty, weight 0 by default: its defaults trial is the baseline's,
    # to the last bit (val_score -1 = -(log10 0.1 + 2)^2 for both); probe-opt is the baseline itself.
    res = _invoke("leaderboard", "--tier", "smoke", "--task", "faults/probe", "--method", "probe-opt", "--method",
                  "idle-reg", "--trials", "2", "--seeds", "1", "--default-seeds", "0", "--out", str(tmp_path), "--quiet")
    assert res.exit_code == 0, res.output
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: idle-reg on faults/probe: its defaults trial equals the baseline's to the last bit "
                        "(val_score and test_score); it may never act on this task"]
    from regsuite.leaderboard import same_as_baseline_at_defaults
    from regsuite.registry import build_registry

    task = build_registry(plugin_options=("faultplugin",)).task("faults/probe")
    assert same_as_baseline_at_defaults(tmp_path, task, ["probe-opt", "idle-reg", "nap"]) == ["idle-reg"]


def test_applicable_methods_follow_requires_and_the_tasks_families():
    from regsuite.leaderboard import applicable_methods
    from regsuite.registry import build_registry

    reg = build_registry()
    task = reg.task("digits-mlp")
    names, skipped = applicable_methods(reg, task)
    assert "sam" in names and "adamw" in names
    assert "irm" not in names and any(s.startswith("irm: needs") for s in skipped)  # needs domain labels
    assert "ewc" not in names  # needs experience boundaries


def test_a_task_off_the_leaderboard_runs_nothing_there_not_even_its_baseline():
    from regsuite.leaderboard import applicable_methods
    from regsuite.registry import build_registry

    reg = build_registry()
    ridge, star = reg.task("optimal-transport/ridge-16d-mlp"), reg.task("optimal-transport/star-16d-mlp")
    assert applicable_methods(reg, ridge)[0] == []
    assert {ridge.baseline, "icnn-dual", "monge-gap"} <= set(applicable_methods(reg, star)[0])
    res = CliRunner().invoke(cli, ["leaderboard", "--task", "optimal-transport/ridge-16d-mlp",
                                   "--task", "optimal-transport/star-16d-mlp", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "optimal-transport/ridge-16d-mlp" in res.stderr and "not on the leaderboard" in res.stderr
    plan_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("optimal-transport/")]
    assert [ln.split()[0] for ln in plan_lines if "not on" not in ln] == ["optimal-transport/star-16d-mlp"]


def test_a_composition_named_by_the_task_gets_a_row_of_its_own():
    from regsuite.leaderboard import applicable_methods
    from regsuite.registry import build_registry

    reg = build_registry()
    base = type(reg.task("grokking/mod-add"))
    task = type("WithComposition", (base,), {"leaderboard_extra": base.leaderboard_extra
                                             | {"adam+perp-grad", "no-such-method+adam"}})()
    names, skipped = applicable_methods(reg, task)
    assert "adam+perp-grad" in names and "perp-grad" in names  # the composition besides the single method
    assert not any(n.startswith("no-such-method") for n in names)
    assert any(s.startswith("no-such-method+adam:") for s in skipped)


def test_per_example_methods_run_only_where_batches_carry_example_ids():
    # colored-digits-standard's batches have no "index": aldr-kl failed every trial there.
    from regsuite.leaderboard import applicable_methods
    from regsuite.registry import build_registry

    reg = build_registry()
    dg, _ = applicable_methods(reg, reg.task("domain-generalization/colored-digits-standard"))
    vision, _ = applicable_methods(reg, reg.task("vision/mnist1d-mlp"))
    for name in ("aldr-kl", "saf", "ps-kd"):
        assert name not in dg and name in vision


def test_soft_target_methods_run_only_where_the_loss_reads_soft_targets():
    # colored-digits-standard's loss is cross-entropy on batch["y"]: label smoothing did nothing there.
    from regsuite.registry import build_registry

    reg = build_registry()
    dg = reg.task("domain-generalization/colored-digits-standard")
    for name in ("label-smoothing", "mixup"):
        assert not reg.method(name).requires <= dg.provides
        assert reg.method(name).requires <= reg.task("vision/mnist1d-mlp").provides


def test_unknown_method_is_one_line():
    res = _invoke("leaderboard", "--method", "nope", "--dry-run")
    assert res.exit_code == 2 and res.stderr.strip().startswith("error: unknown method 'nope'")


def test_methods_on_no_board_are_listed_with_the_reason():
    from regsuite.leaderboard import applicable_methods, on_no_board
    from regsuite.registry import build_registry

    reg = build_registry()
    task = reg.task("vision/mnist1d-mlp")  # no optimizers on this board; 1-D signals, not images
    ranked = set(applicable_methods(reg, task)[0])
    lines = {line.split(" ", 1)[0]: line for line in on_no_board(reg, [task], ranked)}
    assert lines["adamw"] == ("adamw (optimizer): runs on vision/mnist1d-mlp but is outside their leaderboard scope "
                              "(Task.leaderboard_families / leaderboard_extra)")
    assert lines["cutout"] == ("cutout (augmentation): no selected task provides what it needs (closest: "
                               "vision/mnist1d-mlp, which lacks images)")
    assert "sam" not in lines and "bloop" not in lines  # ranked there
    assert not any(reg.methods[name].reference for name in lines)  # reference rows are never ranked


def test_every_built_in_method_has_a_standard_board_but_cutmix():
    # A new method must get a place on some board (its family in a task's scope, or leaderboard_extra);
    # CutMix needs images with soft targets, which only the full tier's CIFAR tasks provide.
    from regsuite.leaderboard import applicable_methods, on_no_board
    from regsuite.registry import build_registry

    reg = build_registry()
    tasks = [t for t in reg.select_tasks(suites=(), tasks=(), tier="standard") if t.on_leaderboard]
    ranked = {part for t in tasks for name in applicable_methods(reg, t)[0] for part in name.split("+")}
    assert [line.split(" ", 1)[0] for line in on_no_board(reg, tasks, ranked)] == ["cutmix"]


def test_a_method_left_off_a_board_says_why_and_ranks_where_it_acts():
    from regsuite.leaderboard import applicable_methods
    from regsuite.registry import build_registry

    reg = build_registry()
    cnn, skipped = applicable_methods(reg, reg.task("vision/mnist1d-cnn"))
    mlp, _ = applicable_methods(reg, reg.task("vision/mnist1d-mlp"))
    for name in ("galore", "dct-galore", "fira"):  # hidden 2-D matrices only: the CNN has none
        assert name not in cnn and name in mlp
        assert any(s.startswith(f"{name}: left off this board: no hidden 2-D weight matrix") for s in skipped)
    assert "adamw" in cnn and "shampoo" in cnn and "muon" in cnn and "muon" in mlp  # Muon v2 steps conv kernels
