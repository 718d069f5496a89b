"""Budget-aware learning-rate schedules (family ``schedule``).

Each implements ``regsuite_configure_scheduler(optimizer, budget)`` and sizes
itself from ``budget.steps``, so the same schedule fits a 400-step smoke run and
a 39,000-step full run. A task names one in ``Task.default_schedule``; a run
picks one by composition (``--method adamw+cosine``). The scheduler is
stepped once per optimizer step; ``lr_t = lr * factor(t)`` for t = 0..steps-1.
Implementations: ``torch.optim.lr_scheduler.LambdaLR`` with the factor below,
pytorch-optimizer's WSD shapes (``get_wsd_scheduler_lambda``).
"""

from __future__ import annotations

import math

from regsuite import Claim, Choice, Citation, Fidelity, IntRange, Method, Uniform, hookimpl


def warmup_cosine_factor(t: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up from 1/warmup to 1 over ``warmup`` steps, then cosine from 1 to ``min_ratio``."""
    if t < warmup:
        return (t + 1) / warmup
    progress = min(1.0, (t - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def linear_decay_factor(t: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up, then a straight line from 1 to ``min_ratio`` at the last step."""
    if t < warmup:
        return (t + 1) / warmup
    progress = min(1.0, (t - warmup) / max(1, total - warmup))
    return 1 - (1 - min_ratio) * progress


class WarmupCosine(Method):
    """Linear warm-up, then cosine annealing to ``min_lr_ratio`` at the end of the budget.

    eta_t = eta_min + (eta_max - eta_min) (1 + cos(pi t_cur / T)) / 2 (SGDR's annealing, one cycle),
    preceded by a linear warm-up over ``warmup_frac`` of the steps (Goyal et al. 2017).
    """

    name = "cosine"
    family = "schedule"
    fidelity = Fidelity.faithful("paper", "SGDR's annealing as one cycle, after Goyal et al.'s linear warm-up")
    citation = Citation("SGDR: Stochastic Gradient Descent with Warm Restarts", "Ilya Loshchilov, Frank Hutter",
                        2017, "https://arxiv.org/abs/1608.03983")
    defaults = {"warmup_frac": 0.05, "min_lr_ratio": 0.0}
    space = {"warmup_frac": Uniform(0.0, 0.5), "min_lr_ratio": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_scheduler(self, optimizer, budget):
        from torch.optim.lr_scheduler import LambdaLR

        total, warmup, floor = budget.steps, int(self.hp["warmup_frac"] * budget.steps), self.hp["min_lr_ratio"]
        return LambdaLR(optimizer, lambda t: warmup_cosine_factor(t, total, warmup, floor))


class LinearDecay(Method):
    """Linear warm-up, then linear decay to ``min_lr_ratio`` (zero by default) at the end of the budget.

    eta_t = eta_max (1 - t / T): the schedule Defazio et al. find to match or beat cosine.
    """

    name = "linear-decay"
    family = "schedule"
    fidelity = Fidelity.faithful("paper", "the plain linear-decay schedule, not the paper's gradient-norm refinement")
    citation = Citation("Optimal Linear Decay Learning Rate Schedules and Further Refinements",
                        "Aaron Defazio, Ashok Cutkosky, Harsh Mehta, Konstantin Mishchenko", 2023,
                        "https://arxiv.org/abs/2310.07831")
    defaults = {"warmup_frac": 0.0, "min_lr_ratio": 0.0}
    space = {"warmup_frac": Uniform(0.0, 0.5), "min_lr_ratio": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_scheduler(self, optimizer, budget):
        from torch.optim.lr_scheduler import LambdaLR

        total, warmup, floor = budget.steps, int(self.hp["warmup_frac"] * budget.steps), self.hp["min_lr_ratio"]
        return LambdaLR(optimizer, lambda t: linear_decay_factor(t, total, warmup, floor))


class WarmupStableDecay(Method):
    """Warmup-stable-decay: linear warm-up, constant lr, then a cool-down over the last ``decay_frac``.

    Cool-down 1 - sqrt(progress) by default (Haegele et al. 2024 found it best); the stable
    phase lets one run serve every shorter budget. Every cool-down shape c(p) (1 at the start,
    0 at the end) runs from 1 to ``min_lr_ratio``: factor = r + (1 - r) c(p). The shapes and
    the warm-up are ``pytorch_optimizer``'s WSD lambda; the floor is applied here, because the
    library applies it to its cosine cool-down only.
    """

    name = "wsd"
    family = "schedule"
    version = "2"  # 2: min_lr_ratio applies to every cool-down shape
    citation = Citation("Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations",
                        "Alexander Haegele, Elie Bakouch, Atli Kosson, Loubna Ben Allal, Leandro Von Werra, "
                        "Martin Jaggi", 2024, "https://arxiv.org/abs/2405.18392")
    fidelity = Fidelity.faithful("paper", "pytorch-optimizer 4.1.0's WSD shapes, warm-up starting at 0")
    defaults = {"warmup_frac": 0.05, "decay_frac": 0.2, "cooldown": "1-sqrt", "min_lr_ratio": 0.0}
    space = {"warmup_frac": Uniform(0.0, 0.3), "decay_frac": Uniform(0.05, 0.5),
             "cooldown": Choice(["1-sqrt", "linear", "cosine", "1-square"]), "min_lr_ratio": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_scheduler(self, optimizer, budget):
        from functools import partial

        from pytorch_optimizer.lr_scheduler.wsd import get_wsd_scheduler_lambda
        from torch.optim.lr_scheduler import LambdaLR

        hp = self.hp
        warmup = int(hp["warmup_frac"] * budget.steps)
        decay = max(1, int(hp["decay_frac"] * budget.steps))
        stable = max(0, budget.steps - warmup - decay)
        shape = partial(get_wsd_scheduler_lambda, num_warmup_steps=warmup, num_stable_steps=stable,
                        num_decay_steps=decay, min_lr_ratio=0.0, num_cycles=0.5, cooldown_type=hp["cooldown"])
        floor = hp["min_lr_ratio"]

        def factor(t: int) -> float:
            if t < warmup + stable:
                return shape(t)
            return floor + (1 - floor) * shape(t)

        return LambdaLR(optimizer, factor)


def sgdr_cycle_ends(steps: int, cycles: int, t_mult: int) -> list[int]:
    """Steps at which each SGDR cycle ends: lengths in proportion 1 : t_mult : t_mult^2 ..., the last at ``steps``.

    Integer boundaries are rounded from the exact proportions, so the cycles tile the budget
    exactly (no restart near the end) whatever ``steps`` is.
    """
    span = sum(t_mult**i for i in range(cycles))
    ends, acc = [], 0
    for i in range(cycles):
        acc += t_mult**i
        ends.append(round(steps * acc / span))
    ends[-1] = steps
    return ends


def sgdr_factor(t: int, ends: list[int], min_ratio: float) -> float:
    """Cosine from 1 to ``min_ratio`` within the cycle holding step t (restart at each cycle end)."""
    start = 0
    for end in ends:
        if t < end or end == ends[-1]:
            length = max(1, end - start)
            progress = min(1.0, (t - start) / length)
            return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        start = end
    return min_ratio


class SGDR(Method):
    """SGDR: cosine annealing with warm restarts, cycle lengths T_i = T_0 T_mult^i.

    eta_t = eta_min + (eta_max - eta_min) (1 + cos(pi T_cur / T_i)) / 2. Budget-aware: the
    ``cycles`` cycle lengths keep the ratios T_mult^i and end exactly at the last step
    (:func:`sgdr_cycle_ends`), so no run ends on a restart. eta_min = ``min_lr_ratio`` times
    each parameter group's own lr. Implementation: ``torch.optim.lr_scheduler.LambdaLR``
    with :func:`sgdr_factor` (torch's ``CosineAnnealingWarmRestarts`` takes an integer T_0,
    which cannot tile every budget, and one absolute eta_min for all groups).
    """

    name = "sgdr"
    claims = (
        Claim("new state-of-the-art results at 3.14% and 16.21%, respectively", "accuracy_delta", 0.0,
              "WRN-28-10 on CIFAR-10/100 (full tier here; an absolute error, not a change a CPU task can measure)",
              task=None),
    )
    family = "schedule"
    version = "2"  # 2: cycles tile the budget exactly; per-group floor
    citation = WarmupCosine.citation
    fidelity = Fidelity.adapted("cycle lengths rounded to tile the run's budget exactly (the paper fixes T_0 "
                                "in epochs); eta_min relative to each group's lr")
    defaults = {"cycles": 3, "t_mult": 2, "min_lr_ratio": 0.0}
    space = {"cycles": IntRange(1, 8), "t_mult": IntRange(1, 3), "min_lr_ratio": Uniform(0.0, 0.5)}

    @hookimpl
    def regsuite_configure_scheduler(self, optimizer, budget):
        from torch.optim.lr_scheduler import LambdaLR

        hp = self.hp
        ends = sgdr_cycle_ends(budget.steps, hp["cycles"], hp["t_mult"])
        floor = hp["min_lr_ratio"]
        return LambdaLR(optimizer, lambda t: sgdr_factor(t, ends, floor))


@hookimpl
def regsuite_methods():
    return [WarmupCosine, LinearDecay, WarmupStableDecay, SGDR]
