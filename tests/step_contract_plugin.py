"""Two methods for the step-contract conformance check, loaded with `-p step_contract_plugin`.

Both keep an exponential moving average of the mean logit and penalise the distance to it. One
advances it in every pass (the mistake the check must catch); the other follows the contract.
"""

from __future__ import annotations

from regsuite import Citation, Fidelity, Method, Uniform, hookimpl

CITE = Citation("A test method", "Nobody", 2024, "https://example.org")


class PerPassAverage(Method):
    """Advances its moving average in every forward pass (wrong under two-pass procedures)."""

    name = "per-pass-average"
    family = "regularizer"
    citation = CITE
    fidelity = Fidelity.faithful("paper")
    defaults = {"lam": 0.1, "decay": 0.5}
    space = {"lam": Uniform(0.0, 1.0), "decay": Uniform(0.0, 1.0)}

    def __init__(self, hp=None) -> None:
        super().__init__(hp)
        self.average = None

    def _target(self, outputs):
        mean = outputs.detach().mean()
        return mean if self.average is None else self.hp["decay"] * self.average + (1 - self.hp["decay"]) * mean

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        self.average = self._target(outputs)
        return self.hp["lam"] * (outputs.mean() - self.average) ** 2


class PerStepAverage(PerPassAverage):
    """The same average, computed from the primary pass and committed after the optimizer step."""

    name = "per-step-average"
    pending = None

    @hookimpl
    def regsuite_penalty(self, model, outputs, batch, state):
        target = self._target(outputs) if not state.probe or self.pending is None else self.pending
        if not state.probe:
            self.pending = target
        return self.hp["lam"] * (outputs.mean() - target) ** 2

    @hookimpl
    def regsuite_after_step(self, model, state):
        self.average, self.pending = self.pending, None


@hookimpl
def regsuite_methods():
    return [PerPassAverage, PerStepAverage]
