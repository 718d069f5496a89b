"""uer and coso against hand-computed values (loss, replay batch, projections); conformance."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regsuite.plugins.continual_subspace import REPLAY_KEY, UER
from regsuite.registry import build_registry
from regsuite.testing import conformance


def fake_state(seed=0):
    return SimpleNamespace(seed=seed, step=0, extras={}, probe=False,
                           task_loss=lambda out, b: F.cross_entropy(out, b["y"]))


def head(weights):
    m = nn.Linear(2, 2)
    with torch.no_grad():
        m.weight.copy_(torch.tensor(weights))
        m.bias.zero_()
    return m


def test_uer_loss_cosine_for_new_dot_product_for_replayed():
    model = head([[1.0, 0.0], [0.0, 2.0]])
    uer = UER({"scale": 10.0})
    state = fake_state()
    uer.regsuite_run_start(model, state)
    batch = {"x": torch.tensor([[3.0, 4.0], [1.0, 1.0]]), "y": torch.tensor([0, 1]), "task": torch.tensor([0, 0]),
             REPLAY_KEY: torch.tensor([False, True])}
    loss = uer.regsuite_loss(model(batch["x"]), batch, state)
    # New (3, 4): cosines with rows (1, 0), (0, 1) are (0.6, 0.8), x 10 -> CE(y=0) = log(1 + e^2).
    # Replayed (1, 1): logits W x = (1, 2) -> CE(y=1) = log(1 + e^-1). Each weighs 1/2.
    want = 0.5 * math.log(1 + math.e**2) + 0.5 * math.log(1 + math.exp(-1))
    assert loss.item() == pytest.approx(want, rel=1e-6)
    uer.regsuite_run_end(model, state)


def test_uer_replays_from_the_second_step_and_marks_replayed_samples():
    uer = UER({"mem_size": 10, "replay_batch": 3})
    uer.regsuite_run_start(head([[1.0, 0.0], [0.0, 1.0]]), fake_state())
    first = {"x": torch.randn(4, 2), "y": torch.tensor([0, 1, 0, 1]), "task": torch.zeros(4, dtype=torch.long)}
    out = uer.regsuite_transform_batch(first, fake_state())
    assert len(out["y"]) == 4 and not out[REPLAY_KEY].any()  # nothing in memory yet
    second = {k: v.clone() for k, v in first.items()}
    out = uer.regsuite_transform_batch(second, fake_state())
    assert len(out["y"]) == 7 and out[REPLAY_KEY].tolist() == [False] * 4 + [True] * 3
    with pytest.raises(RuntimeError, match="replay batch"):
        uer.regsuite_loss(torch.zeros(1, 2), {"y": torch.tensor([0])}, fake_state())


def test_uer_conforms():
    failed = [r for r in conformance(["uer"], reg=build_registry()) if not r.ok]
    assert not failed, failed


def _coso_step(coso, model, grad):
    model.weight.grad = torch.tensor(grad)
    coso.regsuite_after_backward(model, None)
    return model.weight.grad.tolist()


def test_coso_projects_out_the_past_then_keeps_the_top_singular_direction():
    from regsuite.plugins.continual_subspace import CoSO

    model = nn.Linear(2, 3, bias=False)  # weight 3 x 2: the subspaces live in R^3 (output side)
    coso = CoSO({"rank": 1, "update_every": 100, "energy": 0.9})
    coso.regsuite_on_experience_start(model, None, None)
    # No past yet; G = [[0, 0], [3, 0], [0, 1]] has singular values 3 (along e2) and 1 (along e3):
    # rank 1 keeps the e2 part only.
    assert _coso_step(coso, model, [[0.0, 0.0], [3.0, 0.0], [0.0, 1.0]]) == [[0.0, 0.0], [3.0, 0.0], [0.0, 0.0]]
    # The projector is kept until update_every: a gradient along e1 is projected onto e2 -> 0.
    assert _coso_step(coso, model, [[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]]) == [[0.0, 0.0]] * 3
    # End of the experience: the task component is diag(0, 9, 0): e2 joins the past basis.
    coso.regsuite_on_experience_end(model, None, None)
    (M,) = coso.bases.values()
    assert M.shape == (3, 1) and abs(M[1, 0].item()) == pytest.approx(1.0)
    # Next experience: the e2 row of any gradient is removed before the SVD.
    coso.regsuite_on_experience_start(model, None, None)
    out = _coso_step(coso, model, [[0.0, 0.0], [5.0, 5.0], [0.0, 2.0]])
    assert [v for row in out for v in row] == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.0, 2.0], abs=1e-6)
    # Biases and other 1-D parameters are untouched.
    lin = nn.Linear(2, 2)
    lin.weight.grad, lin.bias.grad = torch.zeros(2, 2), torch.tensor([1.0, -1.0])
    CoSO().regsuite_after_backward(lin, None)
    assert lin.bias.grad.tolist() == [1.0, -1.0]


def test_coso_conforms():
    failed = [r for r in conformance(["coso"], reg=build_registry()) if not r.ok]
    assert not failed, failed
