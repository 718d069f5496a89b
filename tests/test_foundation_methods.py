"""The foundation's methods against their rules, computed by hand."""

import pytest
import torch

from regsuite.context import RunContext
from regsuite.plan import build_plan
from regsuite.runner import build_hooks


def state_for(registry, method, hp=(), forward=None, task_loss=None, params=None):
    spec = build_plan(registry, tasks=["fixture/vectors"], methods=[method], seeds=1, hp=list(hp)).runs[0]
    ctx = RunContext(seed=0, device=None, tier="smoke", hooks=build_hooks(registry, spec), hparams=spec.hparams)
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.tensor(params))
    state = ctx.new_state(model, budget=None, forward=forward, task_loss=task_loss)
    state.setup_optimizer()
    return state, model.w


def test_sam_step_on_a_quadratic(registry):
    """L(w) = 0.5 * sum(a * w^2). g = a*w; e = rho * g/||g||; SGD step with grad a*(w+e)."""
    a = torch.tensor([1.0, 3.0])
    state, w = state_for(
        registry, "sam", hp=["sam.rho=0.5", "sgd.lr=0.1", "sgd.momentum=0"],
        forward=lambda m, b: m.w, task_loss=lambda o, b: 0.5 * (a * o * o).sum(), params=[1.0, 1.0],
    )
    state.train_step({})
    g = [1.0, 3.0]
    norm = (1 + 9) ** 0.5
    e = [0.5 * g[0] / norm, 0.5 * g[1] / norm]
    expected = [1.0 - 0.1 * 1.0 * (1 + e[0]), 1.0 - 0.1 * 3.0 * (1 + e[1])]
    assert w.detach().tolist() == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_value(registry):
    spec = build_plan(registry, tasks=["digits-mlp"], methods=["label-smoothing"], seeds=1,
                      hp=["label-smoothing.eps=0.2"]).runs[0]
    hooks = build_hooks(registry, spec)
    logits = torch.tensor([[2.0, 0.0, 0.0]])
    # Label smoothing is a target transform (it composes with every loss); the task's loss reads y_soft.
    from types import SimpleNamespace

    from regsuite.soft_targets import soft_cross_entropy

    batch = hooks.transform_batch[0](batch={"y": torch.tensor([0])}, state=SimpleNamespace(extras={"num_classes": 3}))
    loss = soft_cross_entropy(logits, batch)
    import math

    z = math.log(math.exp(2) + 2)
    logp = [2 - z, -z, -z]
    q = [0.8 + 0.2 / 3, 0.2 / 3, 0.2 / 3]
    assert loss.item() == pytest.approx(-sum(qi * li for qi, li in zip(q, logp)), rel=1e-6)


def test_cutout_masks_one_clipped_square_per_image():
    from regsuite.plugins.augmentations import cutout_mask

    g = torch.Generator().manual_seed(0)
    mask = cutout_mask(64, 8, 8, 3, generator=g)
    assert mask.shape == (64, 1, 8, 8)
    zeros = (mask == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 9 and zeros.min() >= 2  # full 3x3 inside, at least a 2x2 corner at a border
    for m in mask[:, 0]:
        rows = torch.nonzero((m == 0).any(1)).flatten()
        cols = torch.nonzero((m == 0).any(0)).flatten()
        assert (m[rows.min():rows.max() + 1, cols.min():cols.max() + 1] == 0).all()  # a rectangle


def test_l2_penalty_value(registry):
    spec = build_plan(registry, tasks=["fixture/vectors"], methods=["l2"], seeds=1, hp=["l2.lam=0.08"]).runs[0]
    hooks = build_hooks(registry, spec)
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))
        model.bias.fill_(3.0)
    value = hooks.penalty[0](model=model, outputs=None, batch=None, state=None)
    assert value.item() == pytest.approx(0.5 * 0.08 * (1 + 4 + 9))


def test_adamw_first_step_by_hand(registry):
    """Adam's first step moves each weight by lr * sign(g) (m_hat/sqrt(v_hat) = g/|g|), after decay."""
    state, w = state_for(
        registry, "adamw", hp=["adamw.lr=0.01", "adamw.weight_decay=0.1"],
        forward=lambda m, b: m.w, task_loss=lambda o, b: (o * torch.tensor([2.0, -3.0])).sum(), params=[1.0, 1.0],
    )
    state.train_step({})
    decayed = 1.0 * (1 - 0.01 * 0.1)
    assert w.detach().tolist() == pytest.approx([decayed - 0.01, decayed + 0.01], rel=1e-5)
