"""hypersparse and nc-longtail against hand-computed values; phases, pruning; conformance."""

from __future__ import annotations

import math

import pytest
import torch

from regsuite.plugins.regularizers_sparse import (
    HyperSparse,
    collapse_penalties,
    hypersparse_loss,
    hypersparse_scale,
)
from regsuite.registry import build_registry
from regsuite.testing import conformance


def test_scale_is_0_6585_over_the_prune_rate_quantile():
    w = [torch.tensor([0.3, -1.0]), torch.tensor([[0.1, 0.4], [-0.2, 0.0]])]
    # |w| sorted: 0, 0.1, 0.2, 0.3, 0.4, 1.0; prune_rate 0.6 -> index floor(3.6) = 3 -> 0.3.
    assert hypersparse_scale(w, 0.6) == pytest.approx(0.6585 / 0.3)


def test_loss_is_zero_and_its_gradient_the_adaptive_shrinkage():
    w = torch.tensor([0.1, -0.5], requires_grad=True)
    loss = hypersparse_loss([w], 2.0)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    T, total = math.tanh(0.2) + math.tanh(1.0), 0.6
    # d/dw_i = sign(w_i) s sech^2(s |w_i|) sum|w| / T.
    want = [2 * (1 - math.tanh(0.2) ** 2) * total / T, -2 * (1 - math.tanh(1.0) ** 2) * total / T]
    assert w.grad.tolist() == pytest.approx(want, rel=1e-6)  # 1.2026, -0.5255: the small weight pulled harder


def test_lambda_grows_geometrically_during_art_only():
    m = HyperSparse({"lambda_init": 1e-3, "eta": 2.0, "epoch_steps": 25, "warmup_frac": 0.1, "art_frac": 0.6})
    assert m.phase_bounds(100) == (10, 70)
    assert m.coefficient(9, 100) == 0.0 and m.coefficient(70, 100) == 0.0
    assert m.coefficient(10, 100) == pytest.approx(1e-3)
    assert m.coefficient(60, 100) == pytest.approx(1e-3 * 2.0**2)  # 50 steps = 2 "epochs"


class _State:
    def __init__(self, step, steps):
        self.step, self.budget = step, type("B", (), {"steps": steps})()


def test_pruning_at_the_end_of_art_masks_the_smallest_weights_and_holds_them():
    model = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.1, -0.5], [0.3, 0.05]]))
    m = HyperSparse({"prune_rate": 0.5, "warmup_frac": 0.0, "art_frac": 0.5})
    m.regsuite_after_step(model, _State(3, 10))  # step 4 of 10 finished: still ART
    assert m.mask is None
    m.regsuite_after_step(model, _State(4, 10))  # step 5 finished: ART ends, prune 2 of 4
    assert model.weight.flatten().tolist() == pytest.approx([0.0, -0.5, 0.3, 0.0])
    model.weight.grad = torch.ones(2, 2)
    m.regsuite_after_backward(model, _State(5, 10))
    assert model.weight.grad.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    with torch.no_grad():
        model.weight.add_(0.01)  # an optimizer step with momentum would move pruned entries
    m.regsuite_after_step(model, _State(5, 10))
    assert model.weight[0, 0].item() == 0.0 and model.weight[1, 1].item() == 0.0
    assert m.regsuite_run_end(model, _State(10, 10))["sparsity"] == 0.5


def test_collapse_penalties_by_hand():
    f = torch.tensor([[1.0, 0.0], [3.0, 0.0], [-2.0, 1.0], [-2.0, -1.0]])
    within, angular = collapse_penalties(f, torch.tensor([0, 0, 1, 1]))
    # Means (2, 0), (-2, 0); between = 4; every feature 1 from its mean: within = 1 / 4. Two classes
    # opposite: cos = -1 = -1/(K-1): angular 0.
    assert within.item() == pytest.approx(0.25) and angular.item() == pytest.approx(0.0)
    f3 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    within, angular = collapse_penalties(f3, torch.tensor([0, 1, 2]))
    # Means sum to 0; cosines 0, -1/sqrt 2, -1/sqrt 2; +1/2 each, squared, mean over the 6 ordered pairs.
    c = -1 / math.sqrt(2)
    want = 2 * ((0 + 0.5) ** 2 + 2 * (c + 0.5) ** 2) / 6
    assert within.item() == 0.0 and angular.item() == pytest.approx(want)
    assert collapse_penalties(f, torch.tensor([1, 1, 1, 1])) is None


@pytest.mark.parametrize("name", ["hypersparse", "nc-longtail"])
def test_regularizers_conform(name):
    failed = [r for r in conformance([name], reg=build_registry()) if not r.ok]
    assert not failed, failed
