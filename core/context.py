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
    # runner can measure state memory and tell a crash on non-finite weights from a real error.
    states: list = field(default_factory=list, repr=False)

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

    def weights_non_finite(self) -> bool:
        import torch

        for state in self.states:
            model = getattr(state, "model", None)
            if model is not None and any(not torch.isfinite(p).all() for p in model.parameters()):
                return True
        return False
