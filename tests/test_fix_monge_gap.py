"""monge-gap v2: its entropic epsilon is a fraction of the batch's mean cost (OTT-JAX's relative epsilon).

v1 used eps = (0.1 x the target's per-dimension std)^2, which at d = 16 is about 1/1,300 of the mean
cost; v2 uses eps = eps_rel * mean_ij c(x_i, T(x_j)), eps_rel = 0.01 (OTT-JAX's Monge gap tutorial).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from regsuite.plugins.optimal_transport import MongeGap

# Two points of R^16 far apart: 0 and the all-ones vector. c(x_i, y_j) = 0.5 ||x_i - y_j||^2.
D = 16
X = torch.stack([torch.zeros(D), torch.ones(D)])
STATE = SimpleNamespace(extras={"target_scale": 1.0})  # v1 read its scale here


def penalty(tx, x=X, **hp):
    return float(MongeGap(hp).regsuite_penalty(model=None, outputs=tx, batch={"x": x}, state=STATE))


def test_identity_gap_is_minus_eps_log_n_with_eps_a_hundredth_of_the_mean_cost():
    # T = identity: costs C(x_i, T(x_j)) = [[0, 8], [8, 0]], mean 4, so eps = 0.01 * 4 = 0.04.
    # 8 / eps = 200: the entropic plan is the identity matching, the entropic cost is
    # 0 + eps KL(diag(1/2) | 1/4) = eps log 2, and the gap is 0 - eps log 2 = -0.02773.
    # (v1: eps = (0.1 * 1)^2 = 0.01, gap -0.00693.)
    assert penalty(X.clone()) == pytest.approx(-0.04 * math.log(2), abs=1e-3)


def test_swap_gap_by_hand():
    # T swaps the two points: each moves by 0.5 * 16 = 8 (mean 8); C = [[8, 0], [0, 8]], mean 4, eps 0.04;
    # the entropic plan is the swap with cost 0 + eps log 2, so the gap is 8 - 0.04 log 2 = 7.9723.
    swap = X.flip(0)
    assert penalty(swap) == pytest.approx(8 - 0.04 * math.log(2), abs=1e-3)
    # lam multiplies it; eps_rel 0.1 gives eps = 0.4 (8 / 0.4 = 20: still a permutation plan).
    assert penalty(swap, lam=2.0) == pytest.approx(2 * (8 - 0.04 * math.log(2)), abs=2e-3)
    assert penalty(swap, eps_rel=0.1) == pytest.approx(8 - 0.4 * math.log(2), abs=1e-3)


def test_the_gap_scales_with_the_data_like_the_cost():
    # Scaling x and T(x) by s scales every cost, hence eps, by s^2: the gap scales by s^2 exactly.
    # (v1 kept eps fixed by the task's target_scale, so its gap did not scale.)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=gen)
    tx = x @ torch.randn(4, 4, generator=gen)  # a random linear map: far from optimal on the batch
    base = penalty(tx, x=x)
    assert base > 0.1
    assert penalty(3.0 * tx, x=3.0 * x) == pytest.approx(9.0 * base, rel=1e-3)


def test_no_gradient_flows_through_epsilon():
    # eps is a constant of the step: the penalty's gradient is the gap's at that fixed eps.
    tx = X.flip(0).clone().requires_grad_(True)
    MongeGap({}).regsuite_penalty(model=None, outputs=tx, batch={"x": X}, state=STATE).backward()
    fixed = X.flip(0).clone().requires_grad_(True)
    MongeGap.gap(X, fixed, math.sqrt(0.04)).backward()
    torch.testing.assert_close(tx.grad, fixed.grad)
