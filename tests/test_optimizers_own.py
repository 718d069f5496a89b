"""Optimizers regsuite implements itself, checked against steps computed by hand here.

Each expected value comes from the paper's update rule written out in numpy or
plain Python in the test, never from the implementation under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from regsuite import Budget  # noqa: E402
from regsuite.plugins import optimizers_own  # noqa: E402
from regsuite.plugins.optimizer_kernels import msign, soft_spectral_clip  # noqa: E402

BUDGET = Budget(steps=10)


def quadratic_grad(x, curv):
    """Gradient of f(x) = sum(curv * x^2) / 2."""
    return [c * xi for c, xi in zip(curv, x)]


def test_nag_gs_two_steps_match_algorithm_1():
    alpha, mu, gamma = 0.5, 0.8, 2.0
    curv = [1.0, 3.0]
    x = [1.0, -2.0]
    holder = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(x, dtype=torch.float64))])
    p = holder[0]
    opt = optimizers_own.NAGGS({"lr": alpha, "mu": mu, "gamma": gamma}).regsuite_configure_optimizer(holder, BUDGET)
    v = list(x)  # v_0 = x_0
    for _ in range(2):
        p.grad = torch.tensor(quadratic_grad([float(t) for t in p.detach()], curv), dtype=torch.float64)
        opt.step()
        g = quadratic_grad(x, curv)
        v = [(gamma * vi + alpha * mu * xi - alpha * gi) / (gamma + alpha * mu) for vi, xi, gi in zip(v, x, g)]
        gamma = (gamma + alpha * mu) / (1 + alpha)
        x = [(xi + alpha * vi) / (1 + alpha) for xi, vi in zip(x, v)]
        assert p.detach().tolist() == pytest.approx(x, rel=1e-12)


def _np_msign(m):
    u, _, vh = np.linalg.svd(m, full_matrices=False)
    return u @ vh


def test_drop_muon_updates_only_the_sampled_suffix():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2, bias=False))
    hp = {"lr": 0.1, "vector_lr": 0.05, "momentum": 0.9, "orthogonalize": "svd"}
    opt = optimizers_own.DropMuon(hp).regsuite_configure_optimizer(model, BUDGET)
    w0, b0, w1 = (t.detach().numpy().copy() for t in (model[0].weight, model[0].bias, model[1].weight))
    rng = np.random.default_rng(0)
    grads = [[rng.normal(size=w0.shape), rng.normal(size=b0.shape), rng.normal(size=w1.shape)] for _ in range(2)]

    def step(k, start):
        opt.sample_start = lambda: start
        for p, g in zip((model[0].weight, model[0].bias, model[1].weight), grads[k]):
            p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()

    # Step 1: s = 1, only the last layer moves; M = (1 - mu) G.
    step(0, 1)
    m1 = (1 - 0.9) * grads[0][2]
    w1 = w1 - 0.1 * math.sqrt(max(1, 2 / 4)) * _np_msign(m1)
    np.testing.assert_allclose(model[0].weight.detach().numpy(), w0, rtol=0, atol=0)
    np.testing.assert_allclose(model[0].bias.detach().numpy(), b0, rtol=0, atol=0)
    np.testing.assert_allclose(model[1].weight.detach().numpy(), w1, atol=1e-5)
    # Step 2: s = 0, every layer moves; layer 0's momentum starts now, layer 1's accumulates.
    step(1, 0)
    m0w, m0b = 0.1 * grads[1][0], 0.1 * grads[1][1]
    m1 = 0.9 * m1 + 0.1 * grads[1][2]
    w0 = w0 - 0.1 * math.sqrt(max(1, 4 / 3)) * _np_msign(m0w)
    b0 = b0 - 0.05 * m0b
    w1 = w1 - 0.1 * math.sqrt(max(1, 2 / 4)) * _np_msign(m1)
    np.testing.assert_allclose(model[0].weight.detach().numpy(), w0, atol=1e-5)
    np.testing.assert_allclose(model[0].bias.detach().numpy(), b0, atol=1e-6)
    np.testing.assert_allclose(model[1].weight.detach().numpy(), w1, atol=1e-5)


def test_drop_muon_subset_is_a_suffix_drawn_from_the_run_seed():
    model = torch.nn.Sequential(*(torch.nn.Linear(2, 2) for _ in range(4)))
    method = optimizers_own.DropMuon()
    method._seed = 3
    starts = []
    for _ in range(2):
        opt = method.regsuite_configure_optimizer(model, BUDGET)
        run = []
        for _ in range(20):
            for p in model.parameters():
                p.grad = torch.ones_like(p)
            opt.step()
            assert opt.last_active == list(range(opt.last_active[0], 4))
            run.append(opt.last_active[0])
        starts.append(run)
    assert starts[0] == starts[1] and len(set(starts[0])) > 1


def test_newton_schulz_orthogonalizes_approximately():
    g = torch.randn(6, 10, generator=torch.Generator().manual_seed(1))
    s = torch.linalg.svdvals(msign(g))
    assert s.min() > 0.6 and s.max() < 1.3  # the quintic iteration lands near, not on, 1
    exact = torch.linalg.svdvals(msign(g, method="svd"))
    np.testing.assert_allclose(exact.numpy(), np.ones(6), atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 5), (6, 2)])
def test_soft_spectral_clip_maps_each_singular_value(shape):
    u = np.random.default_rng(2).normal(size=shape) * 2
    c = 1.5
    left, s, vh = np.linalg.svd(u, full_matrices=False)
    expected = left @ np.diag(s / np.sqrt(1 + s**2 / c**2)) @ vh
    got = soft_spectral_clip(torch.tensor(u, dtype=torch.float32), c, steps=40).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_spectra_step_clips_the_adamw_update():
    lr, wd, c = 0.1, 0.2, 1.0
    x0 = np.random.default_rng(3).normal(size=(3, 5))
    g = np.random.default_rng(4).normal(size=(3, 5))
    w = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float32))
    base = torch.optim.AdamW([w], lr=lr, weight_decay=wd, eps=1e-8)
    from regsuite.plugins.optimizer_kernels import Spectra

    opt = Spectra(base, clip_c=c, ns_steps=40)
    w.grad = torch.tensor(g, dtype=torch.float32)
    opt.step()
    update = g / (np.abs(g) + 1e-8)  # AdamW's first step: m_hat / (sqrt(v_hat) + eps)
    left, s, vh = np.linalg.svd(update, full_matrices=False)
    clipped = left @ np.diag(s / np.sqrt(1 + s**2 / c**2)) @ vh
    expected = (1 - wd * lr) * x0 - lr * 1.0 * clipped  # alpha = sqrt(max(1, 3/5)) = 1
    np.testing.assert_allclose(w.detach().numpy(), expected, atol=1e-4)


def test_muon_groups_hidden_matrices_and_steps_both_optimizers():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(5, 4), torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 8), torch.nn.Linear(8, 3))
    opt = optimizers_own.Muon().regsuite_configure_optimizer(model, BUDGET)
    muon, adamw = opt.optimizers  # no conv kernel: no kernel optimizer
    hidden = {id(model[1].weight), id(model[3].weight)}
    assert {id(p) for g in muon.param_groups for p in g["params"]} == hidden
    assert {id(p) for g in adamw.param_groups for p in g["params"]} == {
        id(p) for p in model.parameters() if id(p) not in hidden}
    before = [p.detach().clone() for p in model.parameters()]
    model(torch.tensor([[0, 1, 2]])).sum().backward()
    opt.step()
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    # A scheduler sees (and scales) the learning rate of both parts.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5)
    assert [g["lr"] for g in muon.param_groups] == [0.01] and [g["lr"] for g in adamw.param_groups] == [5e-4]
    assert sched is not None and len(opt.state) == len(list(model.parameters()))


class TiedLM(torch.nn.Module):
    """Embedding, one hidden layer with a bias, and an output head sharing the embedding matrix."""

    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(6, 4)
        self.hidden = torch.nn.Linear(4, 4)
        self.head = torch.nn.Linear(4, 6, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx):
        return self.head(torch.relu(self.hidden(self.wte(idx))))


def test_drop_muon_puts_a_tied_weight_in_one_layer_the_last_that_uses_it():
    torch.manual_seed(0)
    model = TiedLM()
    opt = optimizers_own.DropMuon({"orthogonalize": "svd"}).regsuite_configure_optimizer(model, BUDGET)
    # Layers: hidden (weight, bias), head (the shared matrix); wte holds no parameter of its own.
    assert opt.num_layers == 2
    by_layer = {}
    for g in opt.param_groups:
        by_layer.setdefault(g["layer"], []).extend(id(p) for p in g["params"])
    assert by_layer == {0: [id(model.hidden.weight), id(model.hidden.bias)], 1: [id(model.wte.weight)]}
    # s = 1: only the head layer moves, the shared matrix by lr * sqrt(6/4) * msign((1 - mu) G).
    w = model.wte.weight.detach().numpy().copy()
    hidden = model.hidden.weight.detach().numpy().copy()
    model(torch.tensor([[0, 1, 2, 3]])).sum().backward()
    g = model.wte.weight.grad.numpy().copy()
    opt.sample_start = lambda: 1
    opt.step()
    expected = w - 0.02 * math.sqrt(6 / 4) * _np_msign((1 - 0.95) * g)
    np.testing.assert_allclose(model.wte.weight.detach().numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(model.hidden.weight.detach().numpy(), hidden)


def test_drop_muon_schedule_scales_the_vector_step_too():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    hp = {"lr": 0.1, "vector_lr": 0.04, "momentum": 0.5, "orthogonalize": "svd"}
    opt = optimizers_own.DropMuon(hp).regsuite_configure_optimizer(model, BUDGET)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 if t == 0 else 0.25)
    b = model[0].bias.detach().numpy().copy()
    opt.sample_start = lambda: 0
    model[0].weight.grad = torch.zeros(2, 3)
    model[0].bias.grad = torch.tensor([1.0, -2.0])
    opt.step()
    sched.step()  # factor 0.25 from now on: vector lr 0.04 -> 0.01
    b = b - 0.04 * 0.5 * np.array([1.0, -2.0])  # M = (1 - mu) g
    np.testing.assert_allclose(model[0].bias.detach().numpy(), b, atol=1e-7)
    model[0].bias.grad = torch.tensor([2.0, 2.0])
    opt.step()
    m = 0.5 * 0.5 * np.array([1.0, -2.0]) + 0.5 * np.array([2.0, 2.0])  # = [1.25, 0.5]
    b = b - 0.01 * m
    np.testing.assert_allclose(model[0].bias.detach().numpy(), b, atol=1e-7)


def test_svd_msign_of_a_rank_deficient_matrix_is_the_polar_factor_on_its_range():
    rng = np.random.default_rng(5)
    left, _ = np.linalg.qr(rng.normal(size=(32, 16)))   # 16 orthonormal columns
    right, _ = np.linalg.qr(rng.normal(size=(144, 16)))
    s = np.linspace(3.0, 0.5, 16)
    m = left @ np.diag(s) @ right.T                   # rank 16, 32 x 144
    polar = left @ right.T                            # U V^T over the nonzero singular directions only
    got = msign(torch.tensor(m, dtype=torch.float32), method="svd").numpy()
    np.testing.assert_allclose(got, polar, atol=1e-4)
    sv = np.linalg.svd(got, compute_uv=False)
    np.testing.assert_allclose(sv[:16], 1.0, atol=1e-4)
    np.testing.assert_allclose(sv[16:], 0.0, atol=1e-4)


def _method(name):
    """The registered class of ``name``, from whichever optimizer plugin module provides it."""
    from regsuite.plugins import optimizers

    return {m.name: m for mod in (optimizers, optimizers_own) for m in mod.regsuite_methods()}[name]


def _adago_first_layer(hp, grads):
    """Run AdaGO on a 2-layer linear model, setting the hidden matrix's gradient to each of ``grads``."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), torch.nn.Linear(2, 2, bias=False))
    opt = _method("adago")({"orthogonalize": "svd", **hp}).regsuite_configure_optimizer(model, BUDGET)
    w0 = model[0].weight.detach().numpy().astype(np.float64).copy()
    for g in grads:
        model[0].weight.grad = torch.tensor(g, dtype=torch.float32)
        model[1].weight.grad = torch.ones(2, 2)
        opt.step()
    return w0, model[0].weight.detach().numpy()


@pytest.mark.parametrize("norm", [0.1, 10.0])
def test_adago_first_step_is_lr_whatever_the_gradients_scale(norm):
    a = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]])
    g = a * norm / np.linalg.norm(a)
    w0, w1 = _adago_first_layer({"lr": 0.05, "momentum": 0.9}, [g])
    # v_1 = sqrt(1e-12 + ||G||^2) = ||G|| (to 1e-10), alpha_1 = 0.05 ||G|| / v_1 = 0.05; msign(0.1 G) = msign(A).
    np.testing.assert_allclose(w1, w0 - 0.05 * _np_msign(a), atol=1e-6)


def test_adago_two_steps_with_the_norm_cap_and_the_floor():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    g1 = a * 40.0 / np.linalg.norm(a)   # ||G_1|| = 40, capped at gamma = 10
    g2 = b * 2.0 / np.linalg.norm(b)    # ||G_2|| = 2
    hp = {"lr": 0.05, "momentum": 0.9, "gamma": 10.0, "eps": 5e-4, "v0": 1e-6}
    w0, w2 = _adago_first_layer(hp, [g1, g2])
    m1 = 0.1 * g1
    v1 = math.sqrt(1e-12 + 10.0**2)
    alpha1 = max(5e-4, 0.05 * 10.0 / v1)                    # = 0.05
    m2 = 0.9 * m1 + 0.1 * g2
    v2 = math.sqrt(v1**2 + 2.0**2)                           # = sqrt(104)
    alpha2 = max(5e-4, 0.05 * 2.0 / v2)                      # = 0.0098
    expected = w0 - alpha1 * _np_msign(m1) - alpha2 * _np_msign(m2)
    np.testing.assert_allclose(w2, expected, atol=1e-6)
    # The floor: a tiny gradient after a large one still moves by eps.
    w0, w2 = _adago_first_layer({**hp, "eps": 0.01}, [g1, g2 * 1e-3])
    alpha2 = max(0.01, 0.05 * 2e-3 / math.sqrt(100 + 4e-6))  # = 0.01
    expected = w0 - alpha1 * _np_msign(m1) - alpha2 * _np_msign(0.9 * m1 + 0.1 * g2 * 1e-3)
    np.testing.assert_allclose(w2, expected, atol=1e-6)


def test_soft_spectral_clip_is_accurate_at_768_wide_with_one_dominant_singular_value():
    # The sign pattern of a rank-1-dominated update (what Adam's first steps look like): s_1 ~ 650, s_2 ~ 85.
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(768, 768, generator=gen) * 3 / 768**0.5
    spike = torch.outer(torch.randn(768, generator=gen), torch.randn(768, generator=gen))
    u = torch.sign(noise + 768 * spike / spike.norm())
    c = 5.0
    left, s, vh = torch.linalg.svd(u.double(), full_matrices=False)
    expected = (left * (s / torch.sqrt(1 + s**2 / c**2))) @ vh
    got = soft_spectral_clip(u, c).double()
    assert ((got - expected).norm() / expected.norm()).item() < 2e-4  # 10 fixed steps: 0.21


def test_newton_schulz_step_count_follows_the_scalar_recursion():
    from regsuite.plugins.optimizer_kernels import newton_schulz_steps_needed

    # x_0 = 0.25, x <- x (3 - x)^2 / 4: x_1 = 0.47266, x_2 = 0.75477, x_3 = 0.95121, x_4 = 0.99819,
    # x_5 = 1 - 2.5e-6, x_6 = 1 - 4.6e-12; 1 - sqrt(x_k) = 0.31, 0.13, 0.025, 9.1e-4, 1.2e-6, 2.3e-12.
    assert newton_schulz_steps_needed(0.25, 1e-2) == 4
    assert newton_schulz_steps_needed(0.25, 1e-3) == 4
    assert newton_schulz_steps_needed(0.25, 1e-6) == 6
    assert newton_schulz_steps_needed(0.25, 1e-6, cap=3) == 3
    assert newton_schulz_steps_needed(1.0, 1e-6) == 0


def test_muon_steps_a_conv_kernel_flattened_with_the_newton_schulz_factor():
    # A rank-1 gradient u v^T on a (2, 1, 2) kernel, flattened 2 x 2. At the first Nesterov step the
    # momentum buffer is (1 - mu) G, so the update G + mu (B - G) = (1 - mu^2) G is still rank 1; the
    # normalised update has its one singular value at 1, and each quintic Newton-Schulz step maps it
    # s -> 3.4445 s - 4.7750 s^3 + 2.0315 s^5: after 5 steps s5 (by hand below), so the step is
    # -lr * sqrt(max(1, 2 / 2)) * s5 * u v^T / (|u| |v|).
    conv = torch.nn.Conv1d(1, 2, 2, bias=False)
    model = torch.nn.Sequential(conv, torch.nn.Flatten(), torch.nn.Linear(2, 1, bias=False))
    opt = optimizers_own.Muon({"lr": 0.1}).regsuite_configure_optimizer(model, BUDGET)
    assert len(opt.optimizers) == 2  # the kernel optimizer and AdamW (the head); no 2-D hidden matrix
    w0 = conv.weight.detach().clone()
    u, v = torch.tensor([3.0, 4.0]), torch.tensor([1.0, 0.0])
    conv.weight.grad = torch.outer(u, v).reshape(2, 1, 2)
    model[2].weight.grad = torch.zeros_like(model[2].weight)
    opt.step()
    s = 1.0
    for _ in range(5):
        s = 3.4445 * s - 4.7750 * s**3 + 2.0315 * s**5
    direction = torch.outer(u / 5.0, v).reshape(2, 1, 2)
    torch.testing.assert_close(conv.weight.detach(), w0 - 0.1 * s * direction, atol=2e-4, rtol=0)
