"""Optimistic AMSGrad, variance-adaptive Muon and the lr-vs-batch rule, checked against numpy steps."""

from __future__ import annotations

import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from regsuite import Budget  # noqa: E402
from regsuite.plugins import optimizers_adaptive as ada  # noqa: E402

BUDGET = Budget(steps=4)


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2)).double()  # hidden: the 2 x 3 weight


def _grads(model, k):
    rng = np.random.default_rng(k)
    return [rng.normal(size=tuple(p.shape)) for p in model.parameters()]


def _set(model, grads):
    for p, g in zip(model.parameters(), grads):
        p.grad = torch.tensor(g)


def test_optimistic_amsgrad_two_steps_match_algorithm_2():
    model = _model()
    hp = {"lr": 0.1, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "history": 1, "reg": 1e-3}
    opt = ada.OptimisticAMSGrad(hp).regsuite_configure_optimizer(model, BUDGET)
    w = [p.detach().numpy().copy() for p in model.parameters()]
    half = [x.copy() for x in w]
    theta = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    vhat = [np.full_like(x, 1e-8) for x in w]
    for t in (1, 2):
        grads = _grads(model, t)
        _set(model, grads)
        opt.step()
        for i, g in enumerate(grads):
            theta[i] = 0.9 * theta[i] + 0.1 * g
            v[i] = 0.99 * v[i] + 0.01 * g * g
            vhat[i] = np.maximum(vhat[i], v[i])
            half[i] = half[i] - 0.1 * theta[i] / np.sqrt(vhat[i])
            guess = g  # history 1: extrapolating two gradients gives the latest one
            w[i] = half[i] - 0.1 * (0.9 * theta[i] + 0.1 * guess) / np.sqrt(vhat[i])
        for p, expected in zip(model.parameters(), w):
            np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-12, atol=1e-14)


def test_extrapolation_solves_the_regularized_system():
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(2, 3)) for _ in range(4)]
    reg = 0.01
    u = np.stack([(xs[i + 1] - xs[i]).ravel() for i in range(3)], axis=1)
    gram = u.T @ u
    z = np.linalg.solve(gram + reg * np.linalg.norm(gram, 2) * np.eye(3), np.ones(3))
    c = z / z.sum()
    expected = sum(ci * x for ci, x in zip(c, xs[1:]))
    got = ada.extrapolate([torch.tensor(x) for x in xs], reg).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_extrapolation_finds_the_limit_of_a_geometric_sequence():
    limit, direction = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -0.4])
    xs = [torch.tensor(limit + 0.6**k * direction) for k in range(3)]
    got = ada.extrapolate(xs, 1e-12).numpy()
    np.testing.assert_allclose(got, limit, atol=1e-6)  # the latest point is 0.36 * direction away


def _polar(m):
    """U V^T over the nonzero singular values (the first NSR step is a scaled sign matrix, which can be rank 1)."""
    u, s, vh = np.linalg.svd(m, full_matrices=False)
    keep = s > 1e-9 * s[0]
    return u[:, keep] @ vh[keep]


@pytest.mark.parametrize("variant", ["nsr", "vs"])
def test_va_muon_two_steps_on_the_hidden_matrix(variant):
    model = _model()
    hp = {"lr": 0.05, "beta": 0.9, "variant": variant, "gamma": 0.5, "eps": 1e-8, "weight_decay": 0.1,
          "orthogonalize": "svd"}
    opt = ada.VarianceAdaptiveMuon(hp).regsuite_configure_optimizer(model, BUDGET)
    w = model[0].weight.detach().numpy().copy()
    m = gam = np.zeros_like(w)
    for t in (1, 2):
        grads = _grads(model, 45 + t)  # sign(G_1) of full rank: the first step is a scaled sign matrix
        _set(model, grads)
        opt.step()
        g = grads[0]
        gam = 0.9 * gam + 0.9 * 0.1 * (m - g) ** 2  # with M_{t-1}
        m = 0.9 * m + 0.1 * g
        m_til = g + 0.9 / 0.1 * m / (1 - 0.9**t)
        gam_hat = gam / (1 - 0.9**t)
        root = np.sqrt(m_til**2 + 0.5 * gam_hat if variant == "nsr" else gam_hat)
        scale = 0.2 * np.sqrt(3)  # the authors' 0.2 sqrt(max(rows, cols))
        w = w * (1 - 0.05 * 0.1) - 0.05 * scale * _polar(m_til / (root + 1e-8))
        np.testing.assert_allclose(model[0].weight.detach().numpy(), w, rtol=1e-6, atol=1e-9)


def _batch(n):
    return {"x": torch.zeros(n, 3), "y": torch.zeros(n, dtype=torch.long)}


def test_lr_batch_rule_scales_sgd_linearly_and_composes_with_a_schedule():
    model = _model()
    method = ada.LRBatchRule({"base": "sgd", "reference_batch": 4})
    opt = method.regsuite_configure_optimizer(model, BUDGET)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5)
    method.regsuite_transform_batch(_batch(16), types.SimpleNamespace())
    w0 = model[0].weight.detach().numpy().copy()
    grads = _grads(model, 50)
    _set(model, grads)
    opt.step()
    # sgd's defaults: lr 0.05, momentum 0.9 (first step: the buffer is g); x (16/4)^1; x 0.5 from the schedule.
    np.testing.assert_allclose(model[0].weight.detach().numpy(), w0 - 0.05 * 4 * 0.5 * grads[0], rtol=1e-12)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * 0.5)  # the schedule's lr, unscaled
    sched.step()


def test_lr_batch_rule_scales_adam_by_the_square_root():
    model = _model()
    method = ada.LRBatchRule({"base": "adam", "reference_batch": 64})
    opt = method.regsuite_configure_optimizer(model, BUDGET)
    method.regsuite_transform_batch(_batch(16), types.SimpleNamespace())
    w0 = model[0].weight.detach().numpy().copy()
    grads = _grads(model, 51)
    _set(model, grads)
    opt.step()
    g = grads[0]  # first Adam step: m_hat = g, v_hat = g^2; lr 1e-3 x sqrt(16 / 64)
    np.testing.assert_allclose(model[0].weight.detach().numpy(), w0 - 1e-3 * 0.5 * g / (np.abs(g) + 1e-8),
                               rtol=1e-10)


def test_adadagrad_batch_averages_micro_batches_then_grows_by_the_norm_test(registry):
    import math

    import stepkit

    eta = 0.5
    state, model = stepkit.make_state(registry, ("adadagrad-batch", {"eta": eta, "start_accum": 2, "max_accum": 64}))
    method = state.hooks.methods[0]
    halves = [slice(0, 2), slice(2, 4)]
    batches = [{"x": torch.tensor(stepkit.X[h]), "y": torch.tensor(stepkit.Y[h])} for h in halves]
    state.train_step(batches[0])
    np.testing.assert_allclose(stepkit.weights(model)[0], stepkit.W0)  # first micro-batch: no step yet
    state.train_step(batches[1])
    g = [stepkit.grads(stepkit.W0, stepkit.B0, stepkit.X[h], stepkit.Y[h]) for h in halves]
    mean_w, mean_b = (g[0][0] + g[1][0]) / 2, (g[0][1] + g[1][1]) / 2
    w, b = stepkit.weights(model)
    np.testing.assert_allclose(w, stepkit.W0 - stepkit.LR * mean_w, rtol=1e-12)
    np.testing.assert_allclose(b, stepkit.B0 - stepkit.LR * mean_b, rtol=1e-12)
    # Two micro-batch means of B = 2 samples: unbiased variance (g1 - g2)^2 / 2 per coordinate, times B.
    trace = 2 * sum(((g[0][i] - g[1][i]) ** 2 / 2).sum() for i in range(2))
    wanted = trace / (eta**2 * ((mean_w**2).sum() + (mean_b**2).sum()))
    assert method.accum == min(64, max(2, math.ceil(wanted / 2)))
    assert method.accum > 2  # these gradients disagree: the test asks for a larger batch


def test_methods_declare_valid_metadata_and_are_registered(registry):
    for cls in ada.regsuite_methods():
        assert cls.metadata_problems() == [], cls.name
        assert cls.fidelity is not None and cls.citation is not None
        assert registry.method(cls.name) is cls


def test_adadagrad_batch_every_tuning_point_is_a_valid_configuration():
    # The tuner (regsuite tune, as the leaderboard runs it) samples each key of the space on its own
    # from a scrambled Sobol sequence. start_accum takes 2..8 and max_accum 8..256, so every point
    # has start_accum <= 8 <= max_accum: run_start (where the rule is checked) accepts all of them.
    from regsuite.tune import qmc_points

    space = ada.AdAdaGradBatch.space
    keys = sorted(space)
    assert keys == ["eta", "max_accum", "start_accum"]
    for seed in range(4):
        for u in qmc_points("sobol", len(keys), 512, seed):
            hp = {k: space[k].sample(float(x)) for k, x in zip(keys, u)}
            assert 2 <= hp["start_accum"] <= 8 <= hp["max_accum"] <= 256, hp
            method = ada.AdAdaGradBatch(hp)
            method.regsuite_run_start(None, None)  # raises on 2 <= start_accum <= max_accum failing
            assert method.accum == hp["start_accum"]
    # The ranges' ends: the largest start and the smallest cap the sampler can give still agree.
    assert space["start_accum"].sample(0.999999) == 8 and space["max_accum"].sample(0.0) == 8
    with pytest.raises(ValueError, match="2 <= start_accum <= max_accum"):  # a hand-set bad pair still fails
        ada.AdAdaGradBatch({"start_accum": 8, "max_accum": 4}).regsuite_run_start(None, None)
