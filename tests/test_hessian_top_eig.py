"""hessian_top_eig converges to the exact top eigenvalue and reports its residual.

The old estimate (20 power iterations) stops short when the two largest eigenvalues are close;
these tests compare against eigenvalues known exactly (by construction, or from the dense Hessian
of a small model via torch.autograd.functional.hessian + torch.linalg.eigvalsh).
"""

import math

import pytest
import torch
from torch import nn

from regsuite.diagnostics import compute_diagnostics


class Quadratic(nn.Module):
    """L(w) = 0.5 w^T A w, so the Hessian is A exactly."""

    def __init__(self, a, w):
        super().__init__()
        self.a = a
        self.w = nn.Parameter(w)

    def loss(self):
        return 0.5 * self.w @ self.a @ self.w


def test_close_top_eigenvalues_converge_to_the_exact_one():
    # A = Q diag(5.0, 4.9, 1.0, 0.5, 0.2, 0.1) Q^T: top eigenvalue 5.0 by construction, and a
    # ratio 4.9/5 = 0.98 that power iteration needs hundreds of steps to resolve.
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor([5.0, 4.9, 1.0, 0.5, 0.2, 0.1], dtype=torch.float64)) @ q.T
    model = Quadratic(a, torch.ones(6, dtype=torch.float64))
    out = compute_diagnostics(("hessian_top_eig",), model, lambda m: m.loss(), seed=3)
    assert out["hessian_top_eig"] == pytest.approx(5.0, rel=1e-6)
    assert 0 <= out["hessian_top_eig_residual"] < 1e-4


def test_largest_magnitude_is_negative_when_the_negative_side_dominates():
    a = torch.diag(torch.tensor([-3.0, 2.0, 1.0], dtype=torch.float64))
    model = Quadratic(a, torch.ones(3, dtype=torch.float64))
    out = compute_diagnostics(("hessian_top_eig",), model, lambda m: m.loss())
    assert out["hessian_top_eig"] == pytest.approx(-3.0, rel=1e-6)


def test_small_network_matches_the_dense_hessian():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x = torch.randn(16, 3, dtype=torch.float64)
    y = torch.randint(0, 3, (16,))

    def loss_of(m):
        return nn.functional.cross_entropy(m(x), y)

    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_of_flat(flat):
        parts, start = {}, 0
        for name, shape in zip(names, shapes):
            size = math.prod(shape)
            parts[name] = flat[start : start + size].view(shape)
            start += size
        return nn.functional.cross_entropy(torch.func.functional_call(model, parts, (x,)), y)

    dense = torch.autograd.functional.hessian(loss_of_flat, flat0)
    eigenvalues = torch.linalg.eigvalsh(dense)
    exact = float(eigenvalues[eigenvalues.abs().argmax()])
    out = compute_diagnostics(("hessian_top_eig", "grad_norm"), model, loss_of, seed=0)
    assert out["hessian_top_eig"] == pytest.approx(exact, rel=1e-6)
    assert out["hessian_top_eig_residual"] < 1e-4
    assert set(out) == {"hessian_top_eig", "hessian_top_eig_residual", "grad_norm"}
