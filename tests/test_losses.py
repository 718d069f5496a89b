"""Losses against values computed by hand on tiny cases."""

import math
from types import SimpleNamespace

import pytest
import torch

from regsuite.plan import build_plan
from regsuite.runner import build_hooks


def hooks_for(registry, method, hp=()):
    spec = build_plan(registry, tasks=["digits-mlp"], methods=[method], seeds=1, hp=list(hp)).runs[0]
    return build_hooks(registry, spec)


def loss_of(registry, method, logits, y, hp=(), state=None, **batch):
    hooks = hooks_for(registry, method, hp)
    return hooks.loss[0](outputs=torch.tensor(logits), batch={"y": torch.tensor(y), **batch}, state=state).item()


def test_focal_loss_value(registry):
    # p = softmax([0, ln 3]) = [1/4, 3/4]
    assert loss_of(registry, "focal", [[0.0, math.log(3)]], [1], ["focal.gamma=2"]) == pytest.approx(
        -(0.25**2) * math.log(0.75))


def test_gce_and_mae_values(registry):
    logits, y = [[0.0, math.log(3)]], [0]  # p_y = 1/4
    assert loss_of(registry, "gce", logits, y, ["gce.q=0.5"]) == pytest.approx((1 - 0.25**0.5) / 0.5)
    assert loss_of(registry, "mae", logits, y) == pytest.approx(1.5)  # ||(1, 0) - (1/4, 3/4)||_1


def test_mae_is_ghosh_et_al_l1_distance_to_the_one_hot_label():
    from regsuite.plugins.losses import MeanAbsoluteError

    # p = softmax(0, ln 3, 0) = (1/5, 3/5, 1/5); ||e_0 - p||_1 = 4/5 + 3/5 + 1/5 = 8/5
    logits = torch.tensor([[0.0, math.log(3), 0.0]])
    got = MeanAbsoluteError().regsuite_loss(logits, {"y": torch.tensor([0])}, None)
    assert got.item() == pytest.approx(1.6)


def test_losses_take_the_expectation_under_soft_targets(registry):
    logits = [[0.0, math.log(3)]]
    soft = torch.tensor([[0.25, 0.75]])
    expected = 0.25 * 1.5 + 0.75 * 0.5  # MAE 2 (1 - p_k) of class 0 and of class 1
    assert loss_of(registry, "mae", logits, [0], y_soft=soft) == pytest.approx(expected)


def test_stablemax_value(registry):
    # s(1) = 2, s(-1) = 1/2, s(0) = 1
    assert loss_of(registry, "stablemax", [[1.0, -1.0, 0.0]], [0]) == pytest.approx(-math.log(2 / 3.5))


def test_ensloss_assigns_sorted_clipped_derivatives_to_sorted_margins():
    from regsuite.plugins.losses import ensloss_value

    margins = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    draws = torch.tensor([0.0, math.log(0.5), math.log(3.0)], dtype=torch.float64)  # -exp: -1, -0.5, -3
    # sorted derivatives -3, -1, -0.5 -> clipped -1, -1, -0.5; margins in order -1, 0.5, 2;
    # the margin 2 > 1 gets -0.5 / 2; every derivative minus 1e-6.
    value = ensloss_value(margins, torch.ones(3, dtype=torch.float64), draws)
    value.backward()
    expected_grad = [-1 - 1e-6, -1 - 1e-6, -0.25 - 1e-6]
    assert margins.grad.tolist() == pytest.approx(expected_grad)
    assert value.item() == pytest.approx(sum(g * s for g, s in zip(expected_grad, [0.5, -1.0, 2.0])))


def test_ensloss_hook_uses_the_multiclass_margin(registry):
    torch.manual_seed(3)
    z = torch.randn(1).item()
    torch.manual_seed(3)
    got = loss_of(registry, "ensloss", [[2.0, 0.5, 1.0]], [2])
    margin = 1.0 - 2.0  # z_y - max_{k != y} z_k
    assert got == pytest.approx(max(-math.exp(z), -1.0) * margin - 1e-6 * margin)


def test_ps_kd_mixes_labels_with_last_epoch_predictions(registry):
    hooks = hooks_for(registry, "ps-kd", ["ps-kd.alpha_T=0.8"])
    call = hooks.loss[0]
    state = SimpleNamespace(step=0, budget=SimpleNamespace(steps=10), probe=False)
    first = torch.tensor([[math.log(3), 0.0]])  # p = [3/4, 1/4]
    batch = {"y": torch.tensor([1]), "index": torch.tensor([4])}
    assert call(outputs=first, batch=batch, state=state).item() == pytest.approx(-math.log(0.25))
    hooks.after_step[0](model=None, state=state)  # the memory is committed once per optimizer step
    state.step = 5  # alpha = 0.8 * 5/10 = 0.4; target = 0.6 * [0, 1] + 0.4 * [3/4, 1/4] = [0.3, 0.7]
    second = torch.tensor([[0.0, 0.0]])
    assert call(outputs=second, batch=batch, state=state).item() == pytest.approx(math.log(2))
    hooks.after_step[0](model=None, state=state)
    third = torch.tensor([[0.0, math.log(3)]])  # p = [1/4, 3/4]; the previous prediction is now [1/2, 1/2]
    state.step = 10  # alpha = 0.8; target = 0.2 * [0, 1] + 0.8 * [1/2, 1/2] = [0.4, 0.6]
    expected = -(0.4 * math.log(0.25) + 0.6 * math.log(0.75))
    assert call(outputs=third, batch=batch, state=state).item() == pytest.approx(expected)


@pytest.mark.parametrize("metric, features, centers, n, probs", [
    ("euclidean", [[0.0, 0.0]], [[1.0, 0.0], [0.0, 2.0]], 2.0, [0.8, 0.2]),  # d = 1, 2
    ("manhattan", [[0.0, 0.0]], [[1.0, 1.0], [0.0, 3.0]], 1.0,  # d = 2, 3 (+ the authors' 1e-4)
     [3.0001 / 5.0002, 2.0001 / 5.0002]),
    ("chebyshev", [[0.0, 0.0]], [[1.0, 2.0], [3.0, 0.0]], 1.0, [0.6, 0.4]),  # d = 2, 3
    ("cosine", [[1.0, 0.0]], [[1.0, 1.0], [0.0, 1.0]], 1.0,  # d = 1 - 1/sqrt 2 + 1e-4, 1 + 1e-4
     [1 / (1 - 2**-0.5 + 1e-4) / (1 / (1 - 2**-0.5 + 1e-4) + 1 / 1.0001),
      1 / 1.0001 / (1 / (1 - 2**-0.5 + 1e-4) + 1 / 1.0001)]),
])
def test_harmonic_max_probabilities(metric, features, centers, n, probs):
    from regsuite.plugins.losses import harmonic_logits

    p = harmonic_logits(torch.tensor(features), torch.tensor(centers), metric, n).softmax(-1)
    assert p[0].tolist() == pytest.approx(probs, rel=1e-6)


@pytest.mark.parametrize("cls_name", ["HarmonicCosine", "HarmonicManhattan", "HarmonicChebyshev"])
def test_distance_variants_use_the_authors_exponent_one(cls_name):
    from regsuite.plugins import losses

    model = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]]))
    getattr(losses, cls_name)().regsuite_run_start(model, None)
    x = torch.tensor([[3.0, 1.0, 0.0, 0.0]])
    # n = 1 (not sqrt(4) = 2): logits are -log(d + 1e-8) for the distances worked out by hand
    d = {
        "HarmonicCosine": [1 - 3 / 10**0.5 + 1e-4, 1 - 1 / 10**0.5 + 1e-4],  # cos = 3/sqrt 10, 2/(2 sqrt 10)
        "HarmonicManhattan": [3.0 + 1e-4, 4.0 + 1e-4],  # |2| + |1|, |3| + |-1|
        "HarmonicChebyshev": [2.0, 3.0],  # max(2, 1), max(3, 1)
    }[cls_name]
    expected = [-math.log(v + 1e-8) for v in d]
    assert model(x)[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_harmonic_head_replaces_the_output_layer(registry):
    hooks = hooks_for(registry, "harmonic-euclidean", ["harmonic-euclidean.n=2"])
    model = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(2, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    hooks.run_start[0](model=model, state=None)
    logits = model(torch.tensor([[0.0, 0.0], [0.1, 1.9]]))
    assert logits.softmax(-1)[0].tolist() == pytest.approx([0.8, 0.2])
    assert logits.argmax(-1).tolist() == [0, 1]  # nearest centre
    assert "bias" not in dict(model.named_parameters()).keys() and len(list(model.parameters())) == 1


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "chebyshev"])
def test_harmonic_logits_support_hessian_vector_products(metric):
    """The end-of-run diagnostics differentiate twice through the head."""
    from regsuite.plugins.losses import harmonic_logits

    centers = torch.tensor([[1.0, 0.5], [-0.5, 2.0]], requires_grad=True)
    loss = harmonic_logits(torch.tensor([[0.2, 0.1], [1.0, -1.0]]), centers, metric, 2.0).logsumexp(-1).sum()
    (g,) = torch.autograd.grad(loss, centers, create_graph=True)
    (hv,) = torch.autograd.grad(g, centers, grad_outputs=torch.ones_like(g))
    assert torch.isfinite(hv).all()


def test_gce_gradient_stays_finite_when_a_probability_underflows(registry):
    hooks = hooks_for(registry, "gce", [])
    logits = torch.tensor([[0.0, -200.0, 5.0]], requires_grad=True)  # p_1 underflows to 0 in float32
    loss = hooks.loss[0](outputs=logits, batch={"y": torch.tensor([2])}, state=None)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    p = torch.tensor([0.0, -200.0, 5.0]).softmax(-1)
    assert loss.item() == pytest.approx((1 - p[2].item() ** 0.7) / 0.7, rel=1e-5)  # (1 - p_y^q) / q by hand
