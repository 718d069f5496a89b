"""Gradient transforms: each rule applied to known gradients, expected values written out here."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from regsuite.plugins import gradient_transforms as gt  # noqa: E402


def model_with_grads(*grads):
    params = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(len(g))) for g in grads])
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float32)
    return params


def test_grad_norm_clip_scales_the_global_norm():
    model = model_with_grads([3.0, 0.0], [0.0, 4.0])  # global norm 5
    gt.GradNormClip({"max_norm": 1.0}).regsuite_after_backward(model, None)
    assert model[0].grad.tolist() == pytest.approx([0.6, 0.0], rel=1e-5)
    assert model[1].grad.tolist() == pytest.approx([0.0, 0.8], rel=1e-5)
    small = model_with_grads([0.3, 0.4])
    gt.GradNormClip({"max_norm": 1.0}).regsuite_after_backward(small, None)
    assert small[0].grad.tolist() == pytest.approx([0.3, 0.4])


def test_coordinate_clip_clamps_the_largest_fraction_only():
    model = model_with_grads([1.0, -2.0, 3.0, -10.0, 5.0], [6.0, -7.0, 8.0, 9.0, 4.0])
    gt.CoordinateClip({"fraction": 0.2}).regsuite_after_backward(model, None)
    # |g| sorted: 1..10; the top 20% (two coordinates: 10 and 9) are clipped to the 8th smallest, 8.
    assert model[0].grad.tolist() == [1.0, -2.0, 3.0, -8.0, 5.0]
    assert model[1].grad.tolist() == [6.0, -7.0, 8.0, 8.0, 4.0]


def test_grokfast_adds_the_amplified_ema():
    alpha, lamb = 0.9, 2.0
    method = gt.Grokfast({"alpha": alpha, "lamb": lamb})
    method.regsuite_run_start(None, None)
    g1, g2 = [1.0, -2.0], [3.0, 0.5]
    model = model_with_grads(g1)
    method.regsuite_after_backward(model, None)
    assert model[0].grad.tolist() == pytest.approx([g + lamb * g for g in g1])  # mu_1 = g_1
    model[0].grad = torch.tensor(g2)
    method.regsuite_after_backward(model, None)
    ema = [alpha * a + (1 - alpha) * b for a, b in zip(g1, g2)]
    assert model[0].grad.tolist() == pytest.approx([g + lamb * e for g, e in zip(g2, ema)], rel=1e-5)


def test_transforms_run_inside_a_training_step():
    """Through TrainState.backward, as the loop calls them: clipping bounds the step of plain SGD."""
    from types import SimpleNamespace

    from regsuite.state import TrainState

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    method = gt.GradNormClip({"max_norm": 0.1})
    hooks = SimpleNamespace(after_backward=(lambda **kw: method.regsuite_after_backward(kw["model"], kw["state"]),),
                            loss=(), penalty=(), after_step=())
    state = TrainState(model=model, hooks=hooks, ctx=None, budget=None)
    (model(torch.randn(8, 4)) * 100).sum().backward()
    state.backward(torch.zeros((), requires_grad=True))
    norm = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters()))
    assert norm.item() == pytest.approx(0.1, rel=1e-4)


def test_transforms_are_valid_methods():
    for cls in (gt.Grokfast, gt.GradNormClip, gt.CoordinateClip):
        assert cls.metadata_problems() == [] and cls.family == "gradient-transform"


def test_clipping_transforms_declare_their_fidelity():
    for cls in (gt.GradNormClip, gt.CoordinateClip):
        assert cls.fidelity is not None and cls.metadata_problems() == [], cls.name
