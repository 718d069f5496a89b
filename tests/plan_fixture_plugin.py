"""Methods, a task and a suite for the plan and registry tests (loaded with `-p plan_fixture_plugin`).

The task has a default schedule, so a test can see whether the plan adds it; ``plan_twin_plugin``
declares the same names again, so a test can see the registry refuse them.
"""

from __future__ import annotations

from regsuite import Budget, Citation, Fidelity, LogUniform, Method, Metric, Suite, Task, hookimpl
from regsuite.space import POSITIVE, PROBABILITY, Uniform

CITE = Citation("A test method", "Nobody", 2024, "https://example.org")


class _Optimizer(Method):
    family = "optimizer"
    citation = CITE
    fidelity = Fidelity.faithful("paper", "a fixture for the plan tests")
    defaults = {"lr": 0.1, "steps_per_cycle": 10, "nesterov": False, "note": "x"}
    space = {"lr": LogUniform(1e-3, 1.0, limits=POSITIVE)}

    @hookimpl
    def regsuite_configure_optimizer(self, model, budget):
        import torch

        return torch.optim.SGD(model.parameters(), lr=self.hp["lr"])


class SelfScheduled(_Optimizer):
    """Sets its own step size over the run, like schedule-free AdamW."""

    name = "plan-self-scheduled"
    schedules_itself = True


class Plain(_Optimizer):
    """An ordinary optimizer: the task's default schedule is added to it."""

    name = "plan-plain"


class Dropper(Method):
    """A regularizer with a probability, to test hard limits apart from the tuning range."""

    name = "plan-dropper"
    family = "regularizer"
    citation = CITE
    fidelity = Fidelity.faithful("paper", "a fixture for the plan tests")
    version = "3"
    defaults = {"p": 0.1}
    space = {"p": Uniform(0.0, 0.5, limits=PROBABILITY)}

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return None


class Twin(Method):
    """Declared again, identically, by plan_twin_plugin."""

    name = "plan-twin"
    family = "regularizer"
    citation = CITE
    fidelity = Fidelity.faithful("paper", "a fixture for the plan tests")

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return None


class Scheduled(Task):
    """A task with a default schedule (never run by these tests)."""

    suite = "planfix"
    name = "scheduled"
    tier = "smoke"
    description = "A fixture task whose default schedule is cosine."
    budget = Budget(steps=20, eval_every=10, log_every=5)
    primary = Metric("accuracy", "max")
    validation = Metric("val_accuracy", "max")
    secondary = ("loss",)
    baseline = "plan-plain"
    default_optimizer = "plan-plain"
    default_schedule = "cosine"
    provides = frozenset({"classification"})
    hp_overrides = {"plan-plain": {"lr": 0.5}, "plan-dropper": {"p": 0.9}}

    def run(self, ctx):
        raise NotImplementedError("the plan tests never run this task")


@hookimpl
def regsuite_methods():
    return [SelfScheduled, Plain, Dropper, Twin]


@hookimpl
def regsuite_tasks():
    return [Scheduled()]


@hookimpl
def regsuite_suites():
    return [Suite(name="planfix", version="7", default_methods=("plan-plain",), default_seeds=1)]
