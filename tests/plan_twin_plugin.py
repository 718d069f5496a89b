"""Declares again what plan_fixture_plugin declares: a method, a task and a suite of the same names.

Loaded together with plan_fixture_plugin (`-p plan_fixture_plugin -p plan_twin_plugin`), every one
of these names is a conflict the registry must refuse; loaded instead of it, its twin method gives
the same configuration from another provider.
"""

from __future__ import annotations

from regsuite import Budget, Citation, Fidelity, Method, Metric, Suite, Task, hookimpl


class Twin(Method):
    """Same name, same version, same defaults as plan_fixture_plugin's; another provider."""

    name = "plan-twin"
    family = "regularizer"
    citation = Citation("A test method", "Nobody", 2024, "https://example.org")
    fidelity = Fidelity.faithful("paper", "a fixture for the plan tests")

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        return None


class Scheduled(Task):
    """Same key as plan_fixture_plugin's task."""

    suite = "planfix"
    name = "scheduled"
    budget = Budget(steps=5)
    primary = Metric("accuracy", "max")
    baseline = "sgd"
    default_optimizer = "sgd"

    def run(self, ctx):
        raise NotImplementedError


@hookimpl
def regsuite_methods():
    return [Twin]


@hookimpl
def regsuite_tasks():
    return [Scheduled()]


@hookimpl
def regsuite_suites():
    return [Suite(name="planfix", version="8")]
