import pytest

from regsuite.errors import CompositionError, UsageError
from regsuite.plan import build_plan, parse_hp_options


def test_plan_expands_methods_tasks_seeds_and_adds_default_optimizer(registry):
    plan = build_plan(registry, tasks=["digits-mlp"], methods=["sam+cutout", "adamw"], seeds=2)
    assert len(plan.runs) == 4
    sam = plan.runs[0]
    assert sam.components == ("sam", "cutout", "sgd")  # digits-mlp's default optimizer is sgd
    assert sam.hparams["cutout"]["size"] == 3  # task override over the method default (16)
    assert sam.hparams["sgd"]["lr"] == 0.05
    assert len({r.run_id for r in plan.runs}) == 4


def test_run_id_is_stable_and_depends_on_config(registry):
    a = build_plan(registry, tasks=["digits-mlp"], methods=["sgd"], seeds=1).runs[0]
    b = build_plan(registry, tasks=["digits-mlp"], methods=["sgd"], seeds=1).runs[0]
    c = build_plan(registry, tasks=["digits-mlp"], methods=["sgd"], seeds=1, hp=["sgd.lr=0.1"]).runs[0]
    assert a.run_id == b.run_id and len(a.run_id) == 16
    assert c.run_id != a.run_id and c.hparams["sgd"]["lr"] == 0.1


def test_suite_version_is_part_of_the_run_id(registry):
    import dataclasses

    a = build_plan(registry, tasks=["digits-mlp"], methods=["sgd"], seeds=1).runs[0]
    assert dataclasses.replace(a, suite_version="999").run_id != a.run_id


@pytest.mark.parametrize(
    "hp, message",
    [
        (["sgd.lr"], "malformed"),
        (["lr=0.1"], "malformed"),
        (["sgd.lr=abc"], "expected a number"),
        (["sgd.lr=-1"], r"-1.0 is outside the values it can take \(it must be >= 0\)"),
        (["sgd.momentum=yes"], "expected a number"),
        (["sgd.lrr=0.1"], "has no hyperparameter 'lrr'; did you mean lr.*it has: lr, momentum"),
        (["sgdd.lr=0.1"], "unknown method 'sgdd'; did you mean sgd"),
        (["adamw.lr=0.01"], "not part of any run"),
    ],
)
def test_bad_hp_is_refused_before_running(registry, hp, message):
    with pytest.raises(UsageError, match=message):
        build_plan(registry, tasks=["digits-mlp"], methods=["sgd"], seeds=1, hp=hp)


def test_unknown_names_suggest_close_matches(registry):
    with pytest.raises(UsageError, match="did you mean sam"):
        build_plan(registry, methods=["samm"])
    with pytest.raises(UsageError, match="did you mean digits-mlp"):
        build_plan(registry, tasks=["digits-mpl"])
    with pytest.raises(UsageError, match="did you mean vision"):
        build_plan(registry, suites=["visoin"])


def test_two_firstresult_claimants_conflict_before_anything_runs(registry):
    with pytest.raises(CompositionError, match="sam and fixture-own-step.*regsuite_train_step"):
        build_plan(registry, tasks=["digits-mlp"], methods=["sam+fixture-own-step"])
    with pytest.raises(CompositionError, match="configure_optimizer"):
        build_plan(registry, tasks=["digits-mlp"], methods=["sgd+adamw"])
    with pytest.raises(UsageError, match="twice"):
        build_plan(registry, tasks=["digits-mlp"], methods=["sam+sam"])


def test_parse_hp_options():
    (ov,) = parse_hp_options(["sam.rho=0.1"])
    assert (ov.method, ov.key, ov.text) == ("sam", "rho", "0.1")


def test_incompatible_pairs_are_refused_with_a_reason(registry):
    plan = build_plan(registry, tasks=["digits-mlp", "fixture/vectors"], methods=["cutout"], seeds=1)
    assert [r.task for r in plan.runs] == ["vision/digits-mlp"]
    assert "cutout needs images" in plan.skipped[0]
    with pytest.raises(UsageError, match="nothing to run.*cutout needs images"):
        build_plan(registry, tasks=["fixture/vectors"], methods=["cutout"], seeds=1)


def test_a_self_scheduling_optimizer_gets_no_default_schedule():
    from regsuite.registry import build_registry

    reg = build_registry(("plan_fixture_plugin",))
    plan = build_plan(reg, tasks=["planfix/scheduled"], methods=["plan-plain", "plan-self-scheduled",
                                                                 "plan-dropper", "plan-self-scheduled+plan-dropper",
                                                                 "plan-plain+cosine"], seeds=1)
    got = {r.method: r.components for r in plan.runs}
    assert got == {
        "plan-plain": ("plan-plain", "cosine"),  # the task's default schedule is cosine
        "plan-self-scheduled": ("plan-self-scheduled",),  # schedules itself: nothing added
        "plan-dropper": ("plan-dropper", "plan-plain", "cosine"),  # default optimizer, then its schedule
        "plan-self-scheduled+plan-dropper": ("plan-self-scheduled", "plan-dropper"),
        "plan-plain+cosine": ("plan-plain", "cosine"),  # named explicitly: not added twice
    }


def test_schedules_itself_must_be_a_bool():
    from regsuite import Method

    class Odd(Method):
        """x"""

        name = "odd"
        family = "optimizer"
        schedules_itself = "yes"

    assert Odd.metadata_problems() == ["schedules_itself must be True or False, got 'yes'"]


def test_a_self_scheduling_optimizer_refuses_an_explicit_schedule():
    from regsuite.errors import CompositionError
    from regsuite.plan import build_plan
    from regsuite.registry import build_registry

    reg = build_registry()
    with pytest.raises(CompositionError, match="adafactor .* cannot be composed with the schedule cosine"):
        build_plan(reg, tasks=["digits-mlp"], methods=["adafactor+cosine"], seeds=1)
