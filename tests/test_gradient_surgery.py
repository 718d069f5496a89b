"""Gradient surgery (pcgrad, median-grad, bloop, perp-grad): each rule checked on the two-tensor
softmax classifier of stepkit (a weight matrix and a bias), expected values from numpy gradients."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from stepkit import B0, LR, W0, X, Y, batch, grads, make_state, weights  # noqa: E402

from regsuite.plugins import gradient_surgery as gs  # noqa: E402


def flat(g):
    return np.concatenate([g[0].ravel(), g[1]])


def split(v):
    return v[:6].reshape(3, 2), v[6:]


def steps(registry, *components, n=1):
    state, model = make_state(registry, *components)
    for _ in range(n):
        state.train_step(batch())
    return weights(model)


def assert_at(got, expected, rel=1e-9):
    assert got[0] == pytest.approx(expected[0], rel=rel, abs=1e-12)
    assert got[1] == pytest.approx(expected[1], rel=rel, abs=1e-12)


def test_pcgrad_projection_by_hand():
    g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # g0 . g1 = -1: they conflict
    out = gs.pcgrad(g, torch.Generator().manual_seed(0))
    # g0 - (-1 / 2) g1 = [0.5, 0.5];  g1 - (-1 / 1) g0 = [0, 1]  (each against the *original* other)
    assert out.tolist() == [[0.5, 0.5], [0.0, 1.0]]
    agreeing = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert gs.pcgrad(agreeing, torch.Generator()).tolist() == agreeing.tolist()


def test_pcgrad_steps_with_the_mean_of_the_projected_domain_gradients(registry):
    g0 = flat(grads(W0, B0, x=X[:2], y=Y[:2]))  # domain 0: rows 0, 1
    g1 = flat(grads(W0, B0, x=X[2:], y=Y[2:]))  # domain 1: rows 2, 3
    dot = g0 @ g1
    assert dot < 0  # the two domains conflict on this batch, so the projection is exercised
    p0 = g0 - dot / (g1 @ g1) * g1
    p1 = g1 - dot / (g0 @ g0) * g0
    uW, ub = split((p0 + p1) / 2)
    assert_at(steps(registry, "pcgrad"), (W0 - LR * uW, B0 - LR * ub))


def test_pcgrad_leaves_penalties_unprojected(registry):
    lam = 0.3
    g0 = flat(grads(W0, B0, x=X[:2], y=Y[:2]))
    g1 = flat(grads(W0, B0, x=X[2:], y=Y[2:]))
    dot = g0 @ g1
    u = (g0 - dot / (g1 @ g1) * g1 + g1 - dot / (g0 @ g0) * g0) / 2 + lam * flat((W0, B0))  # + grad of l2
    uW, ub = split(u)
    assert_at(steps(registry, "pcgrad", ("l2", {"lam": lam})), (W0 - LR * uW, B0 - LR * ub))


def test_median_grad_takes_the_coordinatewise_median_of_microbatch_gradients(registry):
    per_example = np.stack([flat(grads(W0, B0, x=X[i:i + 1], y=Y[i:i + 1])) for i in range(4)])
    median = np.median(per_example, axis=0)  # four values: the mean of the middle two
    assert not np.allclose(median, per_example.mean(0))  # differs from plain SGD here
    uW, ub = split(median)
    assert_at(steps(registry, ("median-grad", {"microbatches": 4})), (W0 - LR * uW, B0 - LR * ub))


def test_sample_median_odd_and_even_counts():
    g = torch.tensor([[1.0, 10.0], [5.0, -2.0], [3.0, 0.0]])
    assert gs.sample_median(g).tolist() == [3.0, 0.0]
    assert gs.sample_median(g[:2]).tolist() == [3.0, 4.0]


def test_bloop_adds_the_penalty_gradient_orthogonal_to_the_ema_of_the_training_gradient(registry):
    lam_l2, lam, beta = 0.2, 0.7, 0.9
    W, b = W0.copy(), B0.copy()
    ema = None
    for _ in range(2):
        g = flat(grads(W, b))
        aux = lam_l2 * flat((W, b))  # gradient of (lam_l2 / 2) ||w||^2
        ema = g if ema is None else beta * ema + (1 - beta) * g
        d = g + lam * (aux - (aux @ ema) / (ema @ ema) * ema)
        uW, ub = split(d)
        W, b = W - LR * uW, b - LR * ub
    got = steps(registry, ("bloop", {"beta": beta, "lam": lam}), ("l2", {"lam": lam_l2}), n=2)
    assert_at(got, (W, b))


def test_bloop_without_an_auxiliary_loss_is_plain_training(registry):
    gW, gb = grads(W0, B0)
    assert_at(steps(registry, "bloop"), (W0 - LR * gW, B0 - LR * gb))


def test_perp_grad_removes_the_component_along_each_tensor_and_keeps_its_norm():
    w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))
    b = torch.nn.Parameter(torch.tensor([1.0, 0.0]))
    w.grad, b.grad = torch.tensor([[1.0, 0.0]]), torch.tensor([2.0, 2.0])
    model = torch.nn.ParameterList([w, b])
    gs.PerpGrad().regsuite_after_backward(model, None)
    # w: g - (3 / 25) w = [0.64, -0.48], norm 0.8, rescaled to ||g|| = 1 -> [0.8, -0.6]
    assert w.grad.tolist()[0] == pytest.approx([0.8, -0.6], rel=1e-6)
    # b: g - (2 / 1) b = [0, 2], rescaled to ||g|| = 2 sqrt 2
    assert b.grad.tolist() == pytest.approx([0.0, 2 * 2**0.5], rel=1e-6)


def test_perp_grad_step_on_the_classifier(registry):
    def perp(w, g):
        p = g - (w.ravel() @ g.ravel()) / (w.ravel() @ w.ravel()) * w
        return p * np.linalg.norm(g) / np.linalg.norm(p)

    gW, gb = grads(W0, B0)
    assert_at(steps(registry, "perp-grad"), (W0 - LR * perp(W0, gW), B0 - LR * perp(B0, gb)), rel=1e-7)


def test_every_method_here_declares_fidelity_and_valid_metadata(registry):
    for cls in (gs.PCGrad, gs.MedianGradient, gs.Bloop, gs.PerpGrad):
        assert cls.fidelity is not None and not cls.metadata_problems(), cls.name
