import math

import pytest

from regsuite import Choice, IntRange, LogUniform, Uniform
from regsuite.space import parse_typed


def test_loguniform_maps_unit_interval_geometrically():
    p = LogUniform(1e-4, 1e-2)
    assert p.sample(0.0) == pytest.approx(1e-4)
    assert p.sample(0.5) == pytest.approx(1e-3)
    assert p.validate("0.005") == 0.005
    with pytest.raises(ValueError, match="outside"):
        p.validate(0.5)
    with pytest.raises(ValueError):
        LogUniform(0.0, 1.0)


def test_uniform_int_and_choice():
    assert Uniform(0, 2).sample(0.25) == 0.5
    with pytest.raises(ValueError, match="number"):
        Uniform(0, 1).validate("abc")
    with pytest.raises(ValueError, match="finite"):
        Uniform(0, 1).validate("nan")
    assert IntRange(1, 4).sample(0.99) == 4 and IntRange(1, 4).sample(0.0) == 1
    assert IntRange(1, 4).validate("3") == 3
    with pytest.raises(ValueError, match="integer"):
        IntRange(1, 4).validate(2.5)
    c = Choice([False, True])
    assert c.validate("True") is True and c.sample(0.1) is False
    with pytest.raises(ValueError, match="not one of"):
        c.validate("maybe")


def test_parse_typed_follows_the_default_type():
    assert parse_typed("yes", False) is True
    assert parse_typed("7", 3) == 7
    assert parse_typed("1e-3", 0.1) == pytest.approx(1e-3)
    with pytest.raises(ValueError):
        parse_typed("x", 0.1)
    with pytest.raises(ValueError):
        parse_typed("inf", 0.1) if not math.isinf(float("inf")) else parse_typed("inf", 0.1)


def test_budget_steps_scale_with_the_task_budget():
    from regsuite import BudgetSteps

    uniform = BudgetSteps(0.0, 1.0)
    assert uniform.sample(0.25, steps=400) == 100 and uniform.sample(0.25, steps=5000) == 1250
    domainbed = BudgetSteps(2e-4, 2.0, log=True)  # 10^U(0, 4) iterations of 5,000
    # u = 0.5: the geometric mean of 2e-4 and 2, 0.02 of the budget: 8 of 400 steps, 100 of 5,000.
    assert domainbed.sample(0.5, steps=400) == 8 and domainbed.sample(0.5, steps=5000) == 100
    assert domainbed.sample(0.0, steps=5000) == 1  # 10^0 iterations, DomainBed's lowest draw
    assert domainbed.sample(0.75, steps=5000) == 1000  # 10^3
    with pytest.raises(ValueError, match="budget"):
        domainbed.sample(0.5)
    assert uniform.validate("120") == 120 and uniform.validate(9000) == 9000  # any count of steps a user sets
    with pytest.raises(ValueError):
        uniform.validate(-1)
    with pytest.raises(ValueError):
        BudgetSteps(0.0, 1.0, log=True)


def test_tuning_draws_annealing_steps_within_a_short_task_budget(registry):
    """On the 400-step colored-digits task IRM's trials switch the penalty on within the run."""
    from regsuite.plan import build_plan
    from regsuite.tune import qmc_points, search_dims, trial_specs

    task = registry.task("domain-generalization/colored-digits-standard")
    spec = build_plan(registry, tasks=[task.key()], methods=["irm"], seeds=1, tier=None).runs[0]
    dims = search_dims(registry, spec, set(), baseline=task.baseline)
    trials = trial_specs(registry, spec, dims, qmc_points("sobol", len(dims), 5, 0), task.budget.steps)
    anneal = [t.hparams["irm"]["anneal_steps"] for t in trials]
    # log-uniform over 2e-4..2 x 400 steps: 0 to 800, half of the draws below 8 steps.
    assert all(0 <= a <= 800 for a in anneal) and sum(a < task.budget.steps for a in anneal) >= 4
