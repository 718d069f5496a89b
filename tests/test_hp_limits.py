"""The search space bounds tuning; hard limits bound what a user (--hp) or a task (hp_overrides) may set."""

import sys
import types

import pytest

from regsuite import Budget, Citation, Fidelity, LogUniform, Method, Metric, Task, Uniform, hookimpl
from regsuite.errors import UsageError
from regsuite.plan import build_plan
from regsuite.registry import build_registry
from regsuite.space import NON_NEGATIVE, POSITIVE, PROBABILITY, UNIT_OPEN, IntRange, Limits, check_typed


def test_limits_by_hand():
    assert POSITIVE.admits(1e-12) and not POSITIVE.admits(0.0) and not POSITIVE.admits(-1.0)
    assert NON_NEGATIVE.admits(0.0) and not NON_NEGATIVE.admits(-1e-9)
    assert PROBABILITY.admits(0.0) and PROBABILITY.admits(1.0) and not PROBABILITY.admits(1.0000001)
    assert not UNIT_OPEN.admits(1.0) and UNIT_OPEN.admits(0.999)
    assert Limits().admits(-1e300)
    assert POSITIVE.describe() == "> 0" and PROBABILITY.describe() == ">= 0 and <= 1"
    with pytest.raises(ValueError, match=r"^1.5 is outside the values it can take \(it must be >= 0 and <= 1\)$"):
        PROBABILITY.check(1.5)


def test_accept_ignores_the_tuning_range_but_not_the_limits():
    lr = LogUniform(1e-4, 1e-1, limits=POSITIVE)
    assert lr.accept("1.0") == 1.0  # ten times the range's top: a valid setting
    with pytest.raises(ValueError, match="outside"):
        lr.validate(1.0)  # ... but not a value the tuner may draw
    with pytest.raises(ValueError, match="must be > 0"):
        lr.accept("0")
    assert LogUniform(1e-5, 1e-1).accept("0") == 0.0  # undeclared: >= 0 (weight decay 0)
    with pytest.raises(ValueError, match="must be >= 0"):
        LogUniform(1e-5, 1e-1).accept(-0.1)
    assert Uniform(0.0, 1.0).accept(-7) == -7.0  # undeclared for Uniform: any finite number
    with pytest.raises(ValueError, match="finite"):
        Uniform(0.0, 1.0).accept("inf")
    assert IntRange(1, 8).accept("100") == 100
    with pytest.raises(ValueError, match="must be >= 0"):
        IntRange(1, 8).accept(-1)
    with pytest.raises(ValueError, match="integer"):
        IntRange(1, 8).accept(2.5)


def test_a_tuning_range_outside_its_limits_is_invalid_metadata():
    assert Uniform(-0.1, 0.5, limits=PROBABILITY).range_problem() == (
        "tuning range [-0.1, 0.5] reaches outside the valid values (>= 0 and <= 1)"
    )
    assert Uniform(0.0, 0.5, limits=PROBABILITY).range_problem() is None

    class Bad(Method):
        """x"""

        name = "bad-range"
        family = "regularizer"
        defaults = {"p": 0.1}
        space = {"p": Uniform(-0.1, 0.5, limits=PROBABILITY)}

    assert Bad.metadata_problems() == [
        "space['p']: tuning range [-0.1, 0.5] reaches outside the valid values (>= 0 and <= 1)"
    ]


def test_check_typed_follows_the_default_type():
    assert check_typed(1, 0.5) == 1.0 and isinstance(check_typed(1, 0.5), float)
    assert check_typed(3, 2) == 3
    for value, like in [(2.5, 2), (True, 2), (True, 0.5), ("0.1", 0.5), (1, False), (3, "cosine")]:
        with pytest.raises(ValueError):
            check_typed(value, like)
    assert check_typed([1, 2], None) == [1, 2]


def test_hp_outside_the_search_space_is_accepted(registry):
    # sgd's tuning range for weight_decay ends far below 1.0; grokking set-ups use 1.0.
    assert not registry.method("sgd").space["weight_decay"].low <= 1.0 <= registry.method("sgd").space["weight_decay"].high
    run = build_plan(registry, tasks=["digits-mlp"], methods=["sgd"], seeds=1, hp=["sgd.weight_decay=1.0"]).runs[0]
    assert run.hparams["sgd"]["weight_decay"] == 1.0


def test_hp_beyond_a_hard_limit_is_refused():
    reg = build_registry(("plan_fixture_plugin",))
    run = build_plan(reg, tasks=["digits-mlp"], methods=["plan-dropper"], seeds=1, hp=["plan-dropper.p=0.9"]).runs[0]
    assert run.hparams["plan-dropper"]["p"] == 0.9  # outside the range [0, 0.5], inside [0, 1]
    with pytest.raises(UsageError, match=r"^--hp plan-dropper.p=1.5: 1.5 is outside the values it can take \(it must be >= 0 and <= 1\)$"):
        build_plan(reg, tasks=["digits-mlp"], methods=["plan-dropper"], seeds=1, hp=["plan-dropper.p=1.5"])
    with pytest.raises(UsageError, match="must be > 0"):
        build_plan(reg, tasks=["digits-mlp"], methods=["plan-plain"], seeds=1, hp=["plan-plain.lr=0"])
    with pytest.raises(UsageError, match="expected an integer"):
        build_plan(reg, tasks=["digits-mlp"], methods=["plan-plain"], seeds=1, hp=["plan-plain.steps_per_cycle=2.5"])


def test_task_overrides_outside_the_range_but_valid_are_used():
    reg = build_registry(("plan_fixture_plugin",))
    run = build_plan(reg, tasks=["planfix/scheduled"], methods=["plan-dropper"], seeds=1).runs[0]
    assert run.hparams["plan-dropper"] == {"p": 0.9}
    assert run.hparams["plan-plain"]["lr"] == 0.5


def _task_plugin(monkeypatch, name, overrides):
    class T(Task):
        """A task whose overrides are under test."""

        suite = "fixture"
        budget = Budget(steps=5)
        primary = Metric("accuracy")
        baseline = "sgd"
        default_optimizer = "sgd"
        hp_overrides = overrides

    T.name = name
    module = types.ModuleType(f"overrides_{name.replace('-', '_')}")
    module.regsuite_tasks = hookimpl(lambda: [T()])
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


@pytest.mark.parametrize("overrides, problem", [
    ({"sgdd": {"lr": 0.1}},
     "hp_overrides names method 'sgdd', which is not provided by any loaded plugin; did you mean sgd"),
    ({"sgd": {"lrr": 0.1}},
     "hp_overrides['sgd'] sets 'lrr', which sgd does not have; did you mean lr? (it has: lr, momentum, nesterov, weight_decay)"),
    ({"sgd": {"lr": "fast"}}, "hp_overrides['sgd']['lr'] = 'fast': expected a number, got 'fast'"),
    ({"sgd": {"lr": -5.0}}, "hp_overrides['sgd']['lr'] = -5.0: -5.0 is outside the values it can take (it must be >= 0)"),
    ({"sgd": {"nesterov": 1}}, "hp_overrides['sgd']['nesterov'] = 1: 1 is not one of [False, True]"),
    ({"sgd": 0.1}, "hp_overrides['sgd'] must be a dict {key: value}, got float"),
])
def test_bad_overrides_leave_the_task_out_with_a_problem_naming_it(monkeypatch, overrides, problem):
    module = _task_plugin(monkeypatch, "bad-overrides", overrides)
    reg = build_registry(("fixture_plugin", module))
    assert "fixture/bad-overrides" not in reg.tasks and "fixture/vectors" in reg.tasks
    (mine,) = [why for name, why in reg.problems if name == "fixture/bad-overrides"]
    assert mine.startswith(f"task 'fixture/bad-overrides': {problem}")  # close matches may follow


def test_good_overrides_far_outside_the_range_are_accepted(monkeypatch):
    # lr = 5.0 is outside sgd's tuning range and above any sane value, but sgd can take it: it is the task's choice.
    module = _task_plugin(monkeypatch, "big-lr", {"sgd": {"lr": 5, "weight_decay": 1.0}})
    reg = build_registry(("fixture_plugin", module))
    assert not [p for p in reg.problems if p[0] == "fixture/big-lr"]
    run = build_plan(reg, tasks=["fixture/big-lr"], methods=["sgd"], seeds=1).runs[0]
    assert run.hparams["sgd"]["lr"] == 5.0 and isinstance(run.hparams["sgd"]["lr"], float)


@pytest.mark.parametrize("extra", [("no:optimizers_own",), ("malformed.bad_import",)])
def test_an_override_for_a_method_of_a_missing_plugin_is_unused_not_a_problem(monkeypatch, extra):
    # With a plugin blocked or broken, 'sgdd' may be one of its methods: the task stays, the override is unused.
    module = _task_plugin(monkeypatch, "maybe-missing", {"sgdd": {"lr": 0.1}, "sgd": {"lr": 0.2}})
    reg = build_registry(("fixture_plugin", module, *extra))
    assert not reg.loaded.complete
    assert "fixture/maybe-missing" in reg.tasks
    assert not [why for name, why in reg.problems if name == "fixture/maybe-missing"]
    # A known method's override is still checked.
    bad = _task_plugin(monkeypatch, "bad-known", {"sgd": {"lrr": 0.2}})
    reg = build_registry(("fixture_plugin", bad, *extra))
    assert "fixture/bad-known" not in reg.tasks
