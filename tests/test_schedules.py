"""Budget-aware schedules: the learning rate at each step against the formulas written out here."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from regsuite import Budget  # noqa: E402
from regsuite.plugins import schedules  # noqa: E402


def lrs(method, steps, base_lr=1.0):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = method.regsuite_configure_scheduler(opt, Budget(steps=steps))
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_cosine_warms_up_then_anneals_to_zero_at_the_budget():
    got = lrs(schedules.WarmupCosine({"warmup_frac": 0.1, "min_lr_ratio": 0.0}), 100, base_lr=0.5)
    assert got[0] == pytest.approx(0.5 * 1 / 10) and got[9] == pytest.approx(0.5)
    assert got[10] == pytest.approx(0.5)  # cosine starts at its peak
    assert got[55] == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 45 / 90)))  # = 0.25
    assert got[99] == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert all(a >= b for a, b in zip(got[10:], got[11:]))


def test_cosine_floor():
    got = lrs(schedules.WarmupCosine({"warmup_frac": 0.0, "min_lr_ratio": 0.2}), 10)
    assert got == pytest.approx([0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * t / 10)) for t in range(10)])
    assert got[5] == pytest.approx(0.6)


def test_linear_decay_is_a_straight_line_to_zero():
    got = lrs(schedules.LinearDecay(), 10, base_lr=2.0)
    assert got == pytest.approx([2.0 * (1 - t / 10) for t in range(10)])  # the last step runs at lr / T


def test_wsd_warmup_stable_then_sqrt_cooldown():
    got = lrs(schedules.WarmupStableDecay({"warmup_frac": 0.1, "decay_frac": 0.2}), 100)
    assert got[:10] == pytest.approx([t / 10 for t in range(10)])  # the library's warm-up starts at 0
    assert got[10:80] == pytest.approx([1.0] * 70)
    assert got[80:] == pytest.approx([1 - math.sqrt((t - 80) / 20) for t in range(80, 100)])


def test_sgdr_fits_its_cycles_into_the_budget():
    got = lrs(schedules.SGDR({"cycles": 3, "t_mult": 2}), 70)  # T_0 = 70 / (1 + 2 + 4) = 10
    for start, length in ((0, 10), (10, 20), (30, 40)):
        for t in range(length):
            assert got[start + t] == pytest.approx(0.5 * (1 + math.cos(math.pi * t / length)), abs=1e-9)


def test_schedules_scale_every_param_group():
    from regsuite.plugins.optimizers_own import Muon

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    opt = Muon().regsuite_configure_optimizer(model, Budget(steps=10))
    sched = schedules.LinearDecay().regsuite_configure_scheduler(opt, Budget(steps=10))
    for _ in range(5):
        opt.step()
        sched.step()
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([1e-3 * 0.5, 0.02 * 0.5])


def test_schedules_are_valid_methods():
    for cls in (schedules.WarmupCosine, schedules.LinearDecay, schedules.WarmupStableDecay, schedules.SGDR):
        assert cls.metadata_problems() == [] and cls.family == "schedule" and cls.fidelity is not None


def test_sgdr_cycles_end_exactly_at_the_last_step_of_any_budget():
    # 100 steps, 3 cycles, t_mult 2: lengths 100 * (1, 2, 4) / 7 = 14.3, 28.6, 57.1 -> ends 14, 43, 100.
    got = lrs(schedules.SGDR({"cycles": 3, "t_mult": 2}), 100)
    for start, length in ((0, 14), (14, 29), (43, 57)):
        for t in range(length):
            assert got[start + t] == pytest.approx(0.5 * (1 + math.cos(math.pi * t / length)), abs=1e-9)
    assert got[99] == pytest.approx(0.5 * (1 + math.cos(math.pi * 56 / 57)))  # ~7.6e-4: the run ends annealed


def test_sgdr_floor_is_relative_to_each_groups_lr():
    p, q = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr": 0.02}, {"params": [q], "lr": 1e-3}])
    sched = schedules.SGDR({"cycles": 1, "min_lr_ratio": 0.5}).regsuite_configure_scheduler(opt, Budget(steps=4))
    for _ in range(2):
        opt.step()
        sched.step()
    # t = 2 of a 4-step cycle: factor 0.5 + 0.5 * 0.5 * (1 + cos(pi / 2)) = 0.75 for both groups.
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.02 * 0.75, 1e-3 * 0.75])
    for _ in range(2):
        opt.step()
        sched.step()
    # Past the budget both sit at their own floor, half their lr (muon's 0.02 -> 0.01, not 5e-4).
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01, 5e-4])


@pytest.mark.parametrize("cooldown,shape", [
    ("1-sqrt", lambda p: 1 - math.sqrt(p)), ("linear", lambda p: 1 - p), ("1-square", lambda p: 1 - p * p),
    ("cosine", lambda p: 0.5 * (1 + math.cos(math.pi * p)))])
def test_wsd_cooldowns_end_at_min_lr_ratio(cooldown, shape):
    got = lrs(schedules.WarmupStableDecay({"warmup_frac": 0.0, "decay_frac": 0.5, "cooldown": cooldown,
                                           "min_lr_ratio": 0.2}), 20)
    assert got[:10] == pytest.approx([1.0] * 10)
    assert got[10:] == pytest.approx([0.2 + 0.8 * shape((t - 10) / 10) for t in range(10, 20)])
    # 1-sqrt at t = 19: 0.2 + 0.8 * (1 - sqrt(0.9)) = 0.2411 (the library alone gives 0.0513)
