"""Step control (forward-grad, grad-es, softmax-step-cap): each rule checked on stepkit's two-tensor
softmax classifier (weight matrix and bias), expected values from numpy gradients and logits."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from stepkit import B0, LR, W0, X, batch, grads, make_state, weights  # noqa: E402

from regsuite.plugins import step_control as sc  # noqa: E402


def assert_at(got, expected, rel=1e-9):
    assert got[0] == pytest.approx(expected[0], rel=rel, abs=1e-12)
    assert got[1] == pytest.approx(expected[1], rel=rel, abs=1e-12)


def run(registry, *components, n=1, seed=0):
    state, model = make_state(registry, *components, seed=seed)
    for _ in range(n):
        state.train_step(batch())
    return weights(model), state


def test_forward_gradient_is_the_directional_derivative_times_the_direction(registry):
    seed = 3
    generator = torch.Generator().manual_seed(seed * 1_000_003 + 0)  # the direction of step 0
    vW = torch.randn((3, 2), generator=generator, dtype=torch.float64).numpy()
    vb = torch.randn((3,), generator=generator, dtype=torch.float64).numpy()
    gW, gb = grads(W0, B0)
    slope = (gW * vW).sum() + (gb * vb).sum()  # grad f . v, without backprop in the method
    (got, _) = run(registry, ("forward-grad", {"scale": 1.0}), seed=seed)
    assert_at(got, (W0 - LR * slope * vW, B0 - LR * slope * vb), rel=1e-8)
    (got, _) = run(registry, "forward-grad", seed=seed)  # the default scale 0.01 multiplies the step
    assert_at(got, (W0 - 0.01 * LR * slope * vW, B0 - 0.01 * LR * slope * vb), rel=1e-8)


def test_grad_es_freezes_a_matrix_whose_mean_absolute_gradient_is_below_tau(registry):
    gW, gb = grads(W0, B0)
    level = np.abs(gW).mean()
    W1, b1 = W0 - LR * gW, B0 - LR * gb
    _, gb1 = grads(W1, b1)
    # tau just above the matrix's level: step 1 still applies its gradient, step 2 moves the bias only.
    (got, state) = run(registry, ("grad-es", {"tau": level * 1.01, "grace": 0.0}), n=2)
    assert_at(got, (W1, b1 - LR * gb1))
    assert state.hooks.methods[0].frozen == ["classifier.weight"]
    # tau just below: nothing is frozen, two plain SGD steps.
    gW1, _ = grads(W1, b1)
    (got, _) = run(registry, ("grad-es", {"tau": level * 0.99, "grace": 0.0}), n=2)
    assert_at(got, (W1 - LR * gW1, b1 - LR * gb1))


def test_grad_es_waits_for_the_grace_period(registry):
    gW, gb = grads(W0, B0)
    W1, b1 = W0 - LR * gW, B0 - LR * gb
    gW1, gb1 = grads(W1, b1)
    # budget 4 steps, grace 0.5: steps 0 and 1 are never frozen, whatever tau is.
    (got, _) = run(registry, ("grad-es", {"tau": 1e6, "grace": 0.5}), n=2)
    assert_at(got, (W1 - LR * gW1, b1 - LR * gb1))


def radius(uW, ub):
    """pi / Delta_a for the linear classifier: a = (x u_W^T + u_b) / ||u||, Delta_a the largest row spread."""
    tau = math.sqrt((uW**2).sum() + (ub**2).sum())
    a = (X @ uW.T + ub) / tau
    return tau, math.pi / (a.max(1) - a.min(1)).max()


def test_softmax_step_cap_shortens_an_update_beyond_the_radius(registry):
    gW, gb = grads(W0, B0)
    uW, ub = -LR * gW, -LR * gb  # the SGD proposal
    tau, rho = radius(uW, ub)
    r = 0.5 * tau / rho  # so that tau = 2 r rho: the step is halved
    (got, state) = run(registry, ("softmax-step-cap", {"target_r": r}))
    assert_at(got, (W0 + 0.5 * uW, B0 + 0.5 * ub), rel=1e-8)
    assert state.finish() == {"step_cap_fraction": 1.0}


def test_softmax_step_cap_keeps_an_update_inside_the_radius(registry):
    gW, gb = grads(W0, B0)
    tau, rho = radius(-LR * gW, -LR * gb)
    (got, state) = run(registry, ("softmax-step-cap", {"target_r": 2 * tau / rho}))
    assert_at(got, (W0 - LR * gW, B0 - LR * gb))
    assert state.finish() == {"step_cap_fraction": 0.0}


def test_every_method_here_declares_fidelity_and_valid_metadata(registry):
    for cls in (sc.ForwardGradient, sc.GradES, sc.SoftmaxStepCap):
        assert cls.fidelity is not None and not cls.metadata_problems(), cls.name
