"""VRGD (plugins/second_wave.py): the GSNR factor worked out by hand, and one VR-SGD step on the
stepkit classifier against numpy gradients of the two halves of the batch."""

import numpy as np
import pytest
import torch

from stepkit import B0, LR, W0, X, Y, batch, grads, make_state, weights

from regsuite.plugins.second_wave import VRGD, gsnr_scale
from regsuite.registry import build_registry


@pytest.fixture(scope="module")
def registry():
    return build_registry()


def test_gsnr_factor_by_hand():
    # Two parts: g1 = (3, 2, 0, 3), g2 = (1, -2, 2, 1).
    # g = (2, 0, 1, 2); E[g_d^2] = (5, 4, 2, 5); sigma^2 = (1, 4, 1, 1); GSNR = (4, 0, 1, 4);
    # its mean is 9/4, so normalised (16/9, 0, 4/9, 16/9); clipped to [0.1, 1]: (1, 0.1, 4/9, 1).
    r, g = gsnr_scale([torch.tensor([3.0, 2.0, 0.0, 3.0]), torch.tensor([1.0, -2.0, 2.0, 1.0])], 0.1)
    assert g.tolist() == pytest.approx([2.0, 0.0, 1.0, 2.0])
    assert r.tolist() == pytest.approx([1.0, 0.1, 4.0 / 9.0, 1.0])
    # gamma is the floor: at 0.5 the second and third coordinates are lifted to it.
    r, _ = gsnr_scale([torch.tensor([3.0, 2.0, 0.0, 3.0]), torch.tensor([1.0, -2.0, 2.0, 1.0])], 0.5)
    assert r.tolist() == pytest.approx([1.0, 0.5, 0.5, 1.0])


def test_zero_variance_and_zero_gradient_stay_finite():
    # All parts agree on the first coordinate (variance 0) and the tensor's second is 0 everywhere.
    r, g = gsnr_scale([torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0])], 0.1)
    assert torch.isfinite(r).all()
    # r = (huge, 0) normalised by its mean: (2, 0), clipped: (1, 0.1); the update r * g = (1, 0).
    assert (r * g).tolist() == pytest.approx([1.0, 0.0])


def vr_sgd_step(W, b, gamma):
    """One VR-SGD step with k = 2 parts, examples {0, 1} and {2, 3}, from numpy gradients."""
    halves = [slice(0, 2), slice(2, 4)]
    parts = [grads(W, b, x=X[h], y=Y[h]) for h in halves]
    new = []
    for theta, tensor_parts in zip((W, b), zip(*parts)):
        stacked = np.stack(tensor_parts)
        g = stacked.mean(0)
        sigma2 = (stacked**2).mean(0) - g**2
        r = g**2 / sigma2
        r = np.clip(r / r.mean(), gamma, 1.0)
        new.append(theta - LR * r * g)
    return new


def test_one_vr_sgd_step_matches_numpy(registry):
    state, model = make_state(registry, ("vrgd", {"parts": 2, "gamma": 0.1}))
    state.train_step(batch())
    W1, b1 = weights(model)
    eW, eb = vr_sgd_step(W0, B0, 0.1)
    assert W1 == pytest.approx(eW, rel=1e-9)
    assert b1 == pytest.approx(eb, rel=1e-9)
    # The mean of the parts' gradients is the whole batch's gradient, and VR-SGD never steps further
    # than SGD along any coordinate (r <= 1), strictly less along some.
    gW, gb = grads(W0, B0)
    sgd = W0 - LR * gW
    assert np.all(np.abs(W1 - W0) <= np.abs(sgd - W0) + 1e-15)
    assert np.any(np.abs(W1 - W0) < np.abs(sgd - W0) - 1e-6)


def test_two_steps_and_more_parts_than_examples(registry):
    # parts = 8 on a batch of 4 uses 4 parts of one example each; the second step starts from the first.
    state, model = make_state(registry, ("vrgd", {"parts": 8}))
    state.train_step(batch())
    state.train_step(batch())
    W2, b2 = weights(model)

    def step(W, b):
        parts = [grads(W, b, x=X[i:i + 1], y=Y[i:i + 1]) for i in range(4)]
        out = []
        for theta, tensor_parts in zip((W, b), zip(*parts)):
            stacked = np.stack(tensor_parts)
            g = stacked.mean(0)
            r = g**2 / ((stacked**2).mean(0) - g**2)
            out.append(theta - LR * np.clip(r / r.mean(), 0.1, 1.0) * g)
        return out

    eW, eb = step(*step(W0, B0))
    assert W2 == pytest.approx(eW, rel=1e-9)
    assert b2 == pytest.approx(eb, rel=1e-9)


def test_vrgd_is_labelled_and_registered(registry):
    assert registry.methods["vrgd"] is VRGD
    assert VRGD.fidelity is not None and VRGD.defaults == {"gamma": 0.1, "parts": 8}


def test_vrgd_conformance():
    from regsuite.testing import conformance

    failed = [r for r in conformance(["vrgd"], reg=build_registry()) if not r.ok]
    assert not failed, failed
