"""A suite whose task loops leave the bookkeeping to the framework, loaded with `-p task_contract_plugin`.

``contract/bare-loop`` is the smallest loop a task author writes: a state, its optimizer, then
``state.train_step`` per step. It neither calls ``state.finish()`` nor fills ``ctx.counters``, and it
spends ``OUTSIDE_S`` seconds outside the steps (standing in for data loading and evaluation).
``contract/finishing-loop`` calls ``state.finish()`` itself and reports its metrics.
"""

from __future__ import annotations

import time

from regsuite import Budget, Citation, Method, Metric, Suite, Task, hookimpl

STEPS = 4
STEP_SLEEP_S = 0.05  # inside every step (in regsuite_after_step)
OUTSIDE_S = 0.3  # in the loop, outside the steps


class CountRunEnd(Method):
    """Reports the optimizer steps its state took, and how often its run_end hook ran."""

    name = "contract-run-end"
    family = "regularizer"
    citation = Citation("A test method", "Nobody", 2024, "https://example.org")
    defaults = {"sleep": 0.0}

    def __init__(self, hp=None):
        super().__init__(hp)
        self.run_end_calls = 0

    @hookimpl
    def regsuite_after_step(self, model, state):
        if self.hp["sleep"]:
            time.sleep(self.hp["sleep"])

    @hookimpl
    def regsuite_run_end(self, model, state):
        self.run_end_calls += 1
        return {"contract_steps_seen": state.step, "contract_run_end_calls": self.run_end_calls}


class _Loop(Task):
    suite = "contract"
    tier = "smoke"
    budget = Budget(steps=STEPS)
    primary = Metric("final_loss", "min")
    baseline = "sgd"
    default_optimizer = "sgd"
    finish_in_loop = False

    def run(self, ctx):
        import torch

        torch.manual_seed(ctx.seed)
        model = torch.nn.Linear(2, 1)
        batch = {"x": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "y": torch.tensor([[1.0], [0.0]])}
        state = ctx.new_state(model, self.budget, forward=lambda m, b: m(b["x"]),
                              task_loss=lambda out, b: torch.nn.functional.mse_loss(out, b["y"]))
        state.setup_optimizer()
        time.sleep(OUTSIDE_S)
        for _ in range(self.budget.steps):
            loss = state.train_step(batch)
        metrics = {"final_loss": float(loss.item())}
        if self.finish_in_loop:
            metrics.update(state.finish())
        return metrics


class BareLoop(_Loop):
    name = "bare-loop"


class FinishingLoop(_Loop):
    name = "finishing-loop"
    finish_in_loop = True


@hookimpl
def regsuite_suites():
    return [Suite(name="contract", version="1")]


@hookimpl
def regsuite_methods():
    return [CountRunEnd]


@hookimpl
def regsuite_tasks():
    return [BareLoop(), FinishingLoop()]
