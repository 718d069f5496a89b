"""Each continual method's rule on a tiny case computed by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regsuite.plugins.continual import Joint, L2Init, Naive, ShrinkAndPerturb, SpectralReg, WassersteinReg
from regsuite.plugins.continual_consolidation import EWC, SI, LwF
from regsuite.plugins.continual_replay import AGEM, ER, DERpp, ReservoirBuffer, project


class Vec(nn.Module):
    def __init__(self, values):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(values, dtype=torch.float32))


def linear(weights):
    """Bias-free linear map with the given (out x in) weights."""
    m = nn.Linear(len(weights[0]), len(weights), bias=False)
    with torch.no_grad():
        m.weight.copy_(torch.tensor(weights, dtype=torch.float32))
    return m


def fake_state(model=None, seed=0):
    return SimpleNamespace(
        seed=seed, step=0, extras={}, device=torch.device("cpu"), probe=False,
        forward=lambda m, b: m(b["x"]), task_loss=lambda out, b: F.cross_entropy(out, b["y"]), model=model,
    )


def exp(index, train=None, classes=(0, 1)):
    return SimpleNamespace(index=index, train=train, classes=classes)


def test_l2_init_penalty():
    m = Vec([1.0, 2.0])
    method = L2Init({"lam": 0.5})
    method.regsuite_run_start(m, fake_state())
    with torch.no_grad():
        m.w.copy_(torch.tensor([2.0, 0.0]))
    # 0.5 * ((2-1)^2 + (0-2)^2) = 2.5
    assert method.regsuite_penalty(m, None, None, None).item() == pytest.approx(2.5)


@pytest.mark.filterwarnings("ignore::UserWarning")  # POT transposes a 1-D tensor
def test_wasserstein_penalty_matches_sorted_weights_and_is_below_l2_init():
    m = Vec([0.0, 0.0, 6.0])
    w = WassersteinReg({"lam": 1.0})
    l2 = L2Init({"lam": 1.0})
    w.regsuite_run_start(m, fake_state())
    l2.regsuite_run_start(m, fake_state())
    with torch.no_grad():
        m.w.copy_(torch.tensor([3.0, 1.0, 2.0]))
    # sorted [1, 2, 3] against [0, 0, 6]: 1 + 4 + 9 = 14; L2-init: 9 + 1 + 16 = 26
    assert w.regsuite_penalty(m, None, None, None).item() == pytest.approx(14.0)
    assert l2.regsuite_penalty(m, None, None, None).item() == pytest.approx(26.0)
    import ot  # independent check: n * W_2^2 from POT

    assert 3 * ot.wasserstein_1d(torch.tensor([3.0, 1.0, 2.0]), torch.tensor([0.0, 0.0, 6.0]), p=2).item() == pytest.approx(14.0)
    # a permutation of the initial weights costs nothing
    with torch.no_grad():
        m.w.copy_(torch.tensor([6.0, 0.0, 0.0]))
    assert w.regsuite_penalty(m, None, None, None).item() == pytest.approx(0.0)


@pytest.mark.parametrize("power,expected", [(1, 4.0 + 0.25), (2, 64.0 + 0.5625)])
def test_spectral_penalty(power, expected):
    # sigma_max(diag(3, 1)) = 3, sigma_max([[0.5, 0], [0, 0.25]]) = 0.5: (3^k - 1)^2 + (0.5^k - 1)^2
    model = nn.Sequential(linear([[3.0, 0.0], [0.0, 1.0]]), linear([[0.5, 0.0], [0.0, 0.25]]))
    method = SpectralReg({"lam": 1.0, "power": power, "iterations": 30})
    method.regsuite_run_start(model, fake_state())
    assert method.regsuite_penalty(model, None, None, fake_state()).item() == pytest.approx(expected, rel=1e-4)


def test_spectral_power_iteration_advances_once_per_step_not_per_pass():
    model = linear([[2.0, 0.0], [0.0, 1.0]])
    method = SpectralReg({"lam": 1.0, "power": 2, "iterations": 1})
    state = fake_state()
    method.regsuite_run_start(model, state)
    method.u = [torch.tensor([1.0, 1.0])]
    # from u0 = (1, 1): v = (2, 1)/sqrt 5, u = (4, 1)/sqrt 17, sigma = 17/sqrt 85 = sqrt(17/5)
    assert method.regsuite_penalty(model, None, None, state).item() == pytest.approx((17 / 5 - 1) ** 2, rel=1e-5)
    with torch.no_grad():
        model.weight.mul_(2.0)  # a probe at other weights (2 W) iterates from the same committed u0:
    state.probe = True  # v, u as above, sigma = 2 sqrt(17/5)
    assert method.regsuite_penalty(model, None, None, state).item() == pytest.approx((4 * 17 / 5 - 1) ** 2, rel=1e-5)
    assert method.u[0].tolist() == [1.0, 1.0]  # nothing committed before the optimizer step
    method.regsuite_after_step(model, state)
    assert method.u[0].tolist() == pytest.approx([4 / 17**0.5, 1 / 17**0.5], rel=1e-6)  # the primary pass's u


def test_ewc_fisher_and_penalty_by_hand():
    model = linear([[0.0], [0.0]])  # logits = W x, softmax(0, 0) = (0.5, 0.5)
    data = {"x": torch.tensor([[1.0], [2.0]]), "y": torch.tensor([0, 1]), "task": torch.tensor([0, 0])}
    method = EWC({"lam": 2.0, "gamma": 0.5, "fisher_samples": 10})
    state = fake_state(model)
    method.regsuite_on_experience_end(model, exp(0, data), state)
    # d CE / dW_k = (p_k - [k = y]) x: sample 1 -> (-0.5, 0.5), sample 2 -> (1, -1); mean squares 0.625 each
    assert method.fisher[0].flatten().tolist() == pytest.approx([0.625, 0.625])
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0], [0.0]]))
    # lam / 2 * 0.625 * 1^2
    assert method.regsuite_penalty(model, None, None, state).item() == pytest.approx(0.625)
    with torch.no_grad():
        model.weight.zero_()
    method.regsuite_on_experience_end(model, exp(1, data), state)
    # online: F* = gamma * F* + F_new = 0.5 * 0.625 + 0.625
    assert method.fisher[0].flatten().tolist() == pytest.approx([0.9375, 0.9375])


def test_si_path_integral_by_hand():
    m = Vec([0.0])
    method = SI({"c": 2.0, "xi": 0.1})
    state = fake_state(m)
    method.regsuite_run_start(m, state)
    for grad, new in ((2.0, -0.2), (1.0, -0.3)):  # two SGD steps with lr 0.1
        m.w.grad = torch.tensor([grad])
        method.regsuite_after_backward(m, state)
        with torch.no_grad():
            m.w.copy_(torch.tensor([new]))
        method.regsuite_after_step(m, state)
    # omega = -2 * (-0.2) + -1 * (-0.1) = 0.5; Omega = 0.5 / ((-0.3)^2 + 0.1)
    assert method.omega[0].item() == pytest.approx(0.5)
    method.regsuite_on_experience_end(m, exp(0), state)
    omega_big = 0.5 / (0.09 + 0.1)
    assert method.importance[0].item() == pytest.approx(omega_big)
    with torch.no_grad():
        m.w.copy_(torch.tensor([0.7]))
    assert method.regsuite_penalty(m, None, None, state).item() == pytest.approx(2.0 * omega_big * 1.0)


def test_lwf_distils_old_units_only():
    model = linear([[0.0], [0.0], [5.0]])
    method = LwF({"lam": 1.0, "temperature": 1.0})
    state = fake_state(model)
    method.regsuite_on_experience_start(model, exp(0), state)
    assert method.regsuite_penalty(model, None, None, state) is None
    method.regsuite_on_experience_end(model, exp(0, classes=(0, 1)), state)
    method.regsuite_on_experience_start(model, exp(1, classes=(2,)), state)
    batch = {"x": torch.tensor([[1.0]])}
    outputs = torch.tensor([[math.log(3.0), 0.0, 9.0]])
    # old: softmax(0, 0) = (.5, .5); new on units {0, 1}: (.75, .25);
    # cross-entropy -(.5 ln .75 + .5 ln .25) = 0.5 ln(4/3) + ln 2
    expected = 0.5 * math.log(4 / 3) + math.log(2.0)
    assert method.regsuite_penalty(model, outputs, batch, state).item() == pytest.approx(expected)


def test_lwf_at_the_default_temperature_is_the_papers_cross_entropy_without_t_squared():
    model = linear([[2 * math.log(2.0)], [0.0], [5.0]])
    method = LwF({"lam": 0.5})  # temperature 2, the paper's default
    state = fake_state(model)
    method.regsuite_on_experience_end(model, exp(0, classes=(0, 1)), state)
    method.regsuite_on_experience_start(model, exp(1, classes=(2,)), state)
    batch = {"x": torch.tensor([[1.0]])}
    outputs = torch.tensor([[math.log(9.0), 0.0, -4.0]])
    # old logits (2 ln 2, 0) / 2 = (ln 2, 0): q = (2/3, 1/3); new (ln 9, 0) / 2 = (ln 3, 0): p = (3/4, 1/4)
    # lam * -(q . log p) = 0.5 * (2/3 ln(4/3) + 1/3 ln 4); a T^2 = 4 factor would quadruple it
    expected = 0.5 * (2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(4.0))
    assert method.regsuite_penalty(model, outputs, batch, state).item() == pytest.approx(expected)


def test_reservoir_keeps_each_sample_with_probability_capacity_over_n():
    counts = torch.zeros(10)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2000):
        buf = ReservoirBuffer(3, gen)
        buf.add({"y": torch.arange(10)})
        assert buf.size == 3 and buf.seen == 10
        counts[buf.data["y"]] += 1
    assert torch.allclose(counts / 2000, torch.full((10,), 0.3), atol=0.04)


def test_er_mixes_memory_into_the_batch():
    method = ER({"mem_size": 4, "replay_batch": 2})
    state = fake_state()
    method.regsuite_run_start(None, state)
    first = {"x": torch.zeros(2, 1), "y": torch.tensor([0, 1]), "task": torch.tensor([0, 0])}
    assert method.regsuite_transform_batch(first, state) is None  # empty memory: batch unchanged
    second = {"x": torch.ones(2, 1), "y": torch.tensor([2, 3]), "task": torch.tensor([1, 1])}
    mixed = method.regsuite_transform_batch(second, state)
    assert mixed["y"][:2].tolist() == [2, 3] and sorted(mixed["y"][2:].tolist()) == [0, 1]
    assert method.buffer.size == 4


def test_agem_projection_by_hand():
    p = nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([1.0, 0.0])
    project([p], [torch.tensor([-1.0, 1.0])])  # g.g_ref = -1 < 0: g - (-1 / 2) g_ref
    assert p.grad.tolist() == pytest.approx([0.5, 0.5])
    p.grad = torch.tensor([1.0, 0.0])
    project([p], [torch.tensor([1.0, 1.0])])  # no conflict: unchanged
    assert p.grad.tolist() == [1.0, 0.0]


def test_agem_memory_constrains_the_step():
    model = linear([[0.0], [0.0]])
    method = AGEM({"mem_per_experience": 1, "ref_batch": 1})
    state = fake_state(model)
    method.regsuite_run_start(model, state)
    data = {"x": torch.tensor([[1.0]]), "y": torch.tensor([0]), "task": torch.tensor([0])}
    method.regsuite_on_experience_end(model, exp(0, data), state)
    model.weight.grad = torch.tensor([[1.0], [-1.0]])  # exactly opposed to the memory gradient (-.5, .5)
    method.regsuite_after_backward(model, state)
    assert model.weight.grad.flatten().tolist() == pytest.approx([0.0, 0.0], abs=1e-6)


def test_derpp_penalty_by_hand():
    model = linear([[1.0], [2.0]])
    method = DERpp({"alpha": 0.3, "beta": 0.7, "mem_size": 1, "replay_batch": 1})
    state = fake_state(model)
    method.regsuite_run_start(model, state)
    batch = {"x": torch.tensor([[1.0]]), "y": torch.tensor([0]), "task": torch.tensor([0])}
    assert method.regsuite_penalty(model, torch.zeros(1, 2), batch, state) is None  # empty buffer
    method.regsuite_after_step(model, state)  # stores x = 1 with logits (0, 0)
    state.step = 1
    # buffer: x = 1, logits (0, 0), y = 0; f(x) = (1, 2): MSE = (1 + 4) / 2, CE = log(1 + e)
    value = method.regsuite_penalty(model, torch.zeros(1, 2), batch, state).item()
    assert value == pytest.approx(0.3 * 2.5 + 0.7 * math.log(1 + math.e), rel=1e-5)


def test_derpp_probe_reuses_the_steps_replay_and_inserts_once_after_the_step():
    model = linear([[1.0], [2.0]])
    method = DERpp({"alpha": 1.0, "beta": 0.0, "mem_size": 8, "replay_batch": 1})
    state = fake_state(model)
    method.regsuite_run_start(model, state)
    for i in range(4):  # four stored samples x = i with logits (0, 0), one per step
        method.regsuite_penalty(model, torch.zeros(1, 2), {"x": torch.tensor([[float(i)]]), "y": torch.tensor([0]),
                                                          "task": torch.tensor([0])}, state)
        method.regsuite_after_step(model, state)
    batch = {"x": torch.tensor([[9.0]]), "y": torch.tensor([1]), "task": torch.tensor([0])}
    primary = method.regsuite_penalty(model, torch.zeros(1, 2), batch, state).item()
    x = method.replay[0]["x"].item()  # the replayed sample: f(x) = (x, 2x) against logits (0, 0)
    assert primary == pytest.approx((x**2 + 4 * x**2) / 2)
    sampler = method.buffer.generator.get_state()
    state.probe = True
    with torch.no_grad():
        model.weight.mul_(3.0)  # a probe at other weights replays the same sample: f(x) = (3x, 6x)
    assert method.regsuite_penalty(model, torch.ones(1, 2), batch, state).item() == pytest.approx(9 * primary)
    assert torch.equal(method.buffer.generator.get_state(), sampler) and method.buffer.seen == 4
    method.regsuite_after_step(model, state)
    assert method.buffer.seen == 5 and method.buffer.data["x"][4].item() == 9.0
    assert method.buffer.data["logits"][4].tolist() == [0.0, 0.0]  # the primary pass's logits


def test_shrink_and_perturb_at_new_experiences_only():
    m = Vec([1.0, -2.0])
    method = ShrinkAndPerturb({"shrink": 0.5, "sigma": 0.0})
    method.regsuite_on_experience_start(m, exp(0), fake_state())
    assert m.w.tolist() == [1.0, -2.0]
    method.regsuite_on_experience_start(m, exp(1), fake_state())
    assert m.w.tolist() == [0.5, -1.0]
    noisy = ShrinkAndPerturb({"shrink": 1.0, "sigma": 0.1})
    noisy.regsuite_on_experience_start(m, exp(1), fake_state())
    assert m.w.tolist() != [0.5, -1.0] and (m.w - torch.tensor([0.5, -1.0])).abs().max() < 0.5


def test_training_scope_flags_and_conflict():
    state = fake_state()
    Joint().regsuite_run_start(None, state)
    assert state.extras["continual.scope"] == "all"
    with pytest.raises(ValueError, match="already chose"):
        Naive().regsuite_run_start(None, state)
    fresh = fake_state()
    Joint({"scope": "seen"}).regsuite_run_start(None, fresh)
    assert fresh.extras["continual.scope"] == "seen"
