"""What a task's ``run`` receives: seed, device, hooks, budget and a logger."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Diverged
from .state import RunHooks, TrainState

DATA_ENV = "REGSUITE_DATA"


@dataclass
class RunContext:
    seed: int
    device: Any  # torch.device
    tier: str
    hooks: RunHooks
    hparams: dict
    data_dir: Path | None = None
    # Curves: rows of (step, wall_s, split, metric, value).
    curves: list = field(default_factory=list)
    # Cost counters a task may fill in: samples or tokens seen, steps taken.
    counters: dict = field(default_factory=lambda: {"steps": 0, "samples": 0, "tokens": 0})
    started: float = field(default_factory=time.perf_counter)
    options: dict = field(default_factory=dict)  # free task options (e.g. compile, amp)
    # Non-numeric facts stored with the run row as JSON strings (e.g. a corpus fingerprint).
    notes: dict = field(default_factory=dict)
    # Every TrainState built for this run registers here (TrainState.__post_init__), so the
    # runner can measure state memory and tell a crash on non-finite weights from a real error,
    # time the training steps, and finish states the task's loop did not finish (see complete()).
    states: list = field(default_factory=lambda: _States(), repr=False)

    def __post_init__(self) -> None:
        # Record which states ran their run_end hooks (TrainState.finish), so complete() runs them
        # exactly once for every state, whether or not the task's loop called finish().
        run_end = getattr(self.hooks, "run_end", None)
        if isinstance(run_end, tuple) and run_end:
            finished = self.states.finished

            def recorded(call):
                def run_end_hook(**kwargs):
                    finished.add(id(kwargs.get("state")))
                    return call(**kwargs)

                return run_end_hook

            self.hooks.run_end = tuple(recorded(call) for call in run_end)

    def log(self, step: int, split: str, metric: str, value: float) -> None:
        self.curves.append((int(step), time.perf_counter() - self.started, split, metric, float(value)))

    def check_finite(self, value: float, what: str = "loss", step: int | None = None) -> None:
        if not math.isfinite(value):
            if step is None:  # loops log the value just before checking it: that point has the real step
                step = self.curves[-1][0] if self.curves else self.counters.get("steps", 0)
            raise Diverged(f"{what} became {value} at step {step}")

    def data_path(self, *parts: str) -> Path:
        """Where local data sets live: --data-dir, else $REGSUITE_DATA, else ./data."""
        base = self.data_dir or Path(os.environ.get(DATA_ENV, "data"))
        return Path(base).joinpath(*parts)

    def new_state(self, model, budget, forward=None, task_loss=None) -> TrainState:
        return TrainState(
            model=model,
            hooks=self.hooks,
            ctx=self,
            budget=budget,
            forward=forward,
            task_loss=task_loss,
            device=self.device,
        )

    def complete(self, metrics: dict) -> dict:
        """What the framework does after a task's ``run`` returned ``metrics`` (updated in place):

        * every training state whose loop did not call ``state.finish()`` is finished here, and
          the metrics its ``regsuite_run_end`` hooks return are added (a metric the task reported
          itself is kept; several unfinished states reporting one metric give their mean);
        * ``counters["steps"]``, when the loop left it at 0, is the optimizer steps the states took;
        * ``counters["train_s"]``, when the loop did not set it, is the time spent in
          ``state.train_step`` (measured on every state), so the step time excludes data loading
          and evaluation.
        """
        states = self.states
        unfinished = [s for s in states if id(s) not in getattr(states, "finished", ())]
        run_end = getattr(self.hooks, "run_end", ())
        if run_end and unfinished:
            reported: dict[str, list[float]] = {}
            for state in unfinished:
                for key, value in state.finish().items():
                    reported.setdefault(key, []).append(value)
            for key, values in reported.items():
                metrics.setdefault(key, sum(values) / len(values))
        if not self.counters.get("steps") and states:
            self.counters["steps"] = sum(int(getattr(s, "step", 0)) for s in states)
        if "train_s" not in self.counters and getattr(states, "train_s", 0.0) > 0:
            self.counters["train_s"] = states.train_s
        return metrics

    def weights_non_finite(self) -> bool:
        import torch

        for state in self.states:
            model = getattr(state, "model", None)
            if model is not None and any(not torch.isfinite(p).all() for p in model.parameters()):
                return True
        return False


class _States(list):
    """``RunContext.states``: a list that times each registered state's ``train_step`` (into
    ``train_s``) and knows which states ran their run_end hooks (``finished``, by id)."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.train_s = 0.0
        self.finished: set[int] = set()

    def append(self, state) -> None:
        super().append(state)
        step = getattr(state, "train_step", None)
        if not callable(step):
            return

        def timed_train_step(batch):
            t0 = time.perf_counter()
            try:
                return step(batch)
            finally:
                self.train_s += time.perf_counter() - t0

        state.train_step = timed_train_step  # the instance's own: other states are not affected
